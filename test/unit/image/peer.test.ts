// The peer endpoint and its client with real TLS on 127.0.0.1: only a certificate of the
// cluster CA is served, only blobs of the images the node holds, and a partial download
// resumes from its offset (Range), passing over a holder that is down or stops sending.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ContentStore,
  type ImageRecord,
  listenPeers,
  PeerSource,
  type PeerTls,
  parseReference,
  peerHandler,
  sha256,
} from '../../../agent/image/index.js';
import { silentLogger } from '../../../lib/index.js';
import { createRootCa, issueNodeCertificate, newPrivateKey, publicKeyOf } from '../../../manager/index.js';

function nodeTls(ca: { certPem: string; keyPem: string }, nodeId: string): PeerTls {
  const key = newPrivateKey();
  const cert = issueNodeCertificate({
    ca,
    publicKeyPem: publicKeyOf(key),
    nodeId,
    role: 'worker',
    clusterId: 'c1',
    validForMs: 3_600_000,
  });
  return { ca: ca.certPem, cert, key };
}

const ca = createRootCa({ clusterId: 'c1' });
const foreign = createRootCa({ clusterId: 'other' });
const layer = Buffer.from('L'.repeat(300_000));
const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(config),
      size: config.length,
    },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length },
    ],
  }),
);
const stray = Buffer.from('in the store, but no image of this node references it');

describe('peer endpoint', () => {
  let dir: string;
  let content: ContentStore;
  let server: { close(): Promise<void> };
  let addr: string;
  const served: number[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-peer-'));
    content = new ContentStore(join(dir, 'server'));
    await content.init();
    for (const b of [layer, config, manifest, stray]) await content.writeBuffer(b);
    const record = {
      id: sha256(config),
      layers: [{ digest: sha256(layer) }],
      manifestDigest: sha256(manifest),
      manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
    } as unknown as ImageRecord;
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    addr = `127.0.0.1:${port}`;
    served.length = 0;
    server = await listenPeers(
      { host: '127.0.0.1', port },
      () => nodeTls(ca, 'holder'),
      peerHandler({ content, images: () => [record] }, silentLogger, (s) => served.push(s.bytes)),
    );
  });

  afterEach(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const ref = parseReference(`example/app@${sha256(manifest)}`);

  it('serves the manifest and blobs of held images, resuming from an offset, to cluster nodes only', async () => {
    const source = new PeerSource([addr], () => nodeTls(ca, 'fetcher'), silentLogger);
    const m = await source.getManifest(ref, sha256(manifest));
    expect(sha256(m.bytes)).toBe(sha256(manifest));
    // A partial blob resumes: the rest is read from its offset and the digest checks out.
    const client = new ContentStore(join(dir, 'client'));
    await client.init();
    await writeFile(join(client.ingestDir, sha256(layer).slice(7)), layer.subarray(0, 100_000));
    await client.ingest(sha256(layer), layer.length, { open: (o) => source.openBlob(ref, sha256(layer), o) });
    expect(await client.verify(sha256(layer))).toBe(true);
    expect(served.at(-1)).toBe(layer.length - 100_000);
    // A blob no image of the node references is not served, even though it is stored.
    await expect(source.openBlob(ref, sha256(stray))).rejects.toThrow(/answered 404/);
    // Another cluster's certificate is refused by TLS.
    const outsider = new PeerSource([addr], () => nodeTls(foreign, 'intruder'), silentLogger);
    await expect(outsider.openBlob(ref, sha256(layer))).rejects.toThrow(/no node of the cluster served/);
    expect(served.length).toBe(2);
  });

  it('passes over a holder that is down for the next one', async () => {
    const source = new PeerSource(['127.0.0.1:1', addr], () => nodeTls(ca, 'fetcher'), silentLogger);
    const client = new ContentStore(join(dir, 'client'));
    await client.init();
    await client.ingest(sha256(layer), layer.length, { open: (o) => source.openBlob(ref, sha256(layer), o) });
    expect(await client.verify(sha256(layer))).toBe(true);
  });

  it('drops a holder that stops sending halfway, and the download resumes from the next one', async () => {
    // A holder cut off the network: its headers and some bytes came, then nothing.
    const tls = nodeTls(ca, 'stalled');
    const stalled = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
      res.writeHead(200, { 'content-length': layer.length });
      res.write(layer.subarray(0, 50_000));
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    try {
      const port = (stalled.address() as AddressInfo).port;
      const source = new PeerSource(
        [`127.0.0.1:${port}`, addr],
        () => nodeTls(ca, 'fetcher'),
        silentLogger,
        300,
      );
      const client = new ContentStore(join(dir, 'client'));
      await client.init();
      const open = { open: (o: number) => source.openBlob(ref, sha256(layer), o) };
      await expect(client.ingest(sha256(layer), layer.length, open)).rejects.toMatchObject({
        code: 'unavailable',
        message: expect.stringMatching(/interrupted at 50000 .*sent nothing for 300ms/),
      });
      await client.ingest(sha256(layer), layer.length, open);
      expect(await client.verify(sha256(layer))).toBe(true);
      expect(served.at(-1)).toBe(layer.length - 50_000);
    } finally {
      stalled.closeAllConnections();
      await new Promise((resolve) => stalled.close(resolve));
    }
  });
});
