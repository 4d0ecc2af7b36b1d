// A stand-in network agent inside a lab host (a NetworkManager driven over stdin/stdout)
// and "containers" as sandbox network namespaces: for the network tests and benchmark.
export { NetworkAgent, Sandbox, udpAskScript } from './agent-client.js';
