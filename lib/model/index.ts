// The object model: Docker Engine API shapes for swarm objects (services, tasks, nodes,
// networks, secrets, configs) as skiff stores and serves them.
export * from './swarm.js';
