import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import S3rver, { type S3rverEvent } from 's3rver';
import { multipartGaps } from './s3-multipart-gaps';

export interface S3LocalOptions {
  /** Where s3rver keeps buckets; undefined uses a temporary directory removed by stop(). */
  dataDir?: string;
  /** Port to bind on 127.0.0.1; omitted or 0 picks a free one. */
  port?: number;
  region?: string;
}

export interface S3Local {
  /** s3rver's own endpoint (path-style, credentials S3RVER/S3RVER), for server-side SDK calls. */
  endpoint: string;
  port: number;
  directory: string;
  /** Calls `listener` with an AWS-shaped S3 notification (one record) for every ObjectCreated:* in any bucket. */
  onObjectCreated(listener: (event: S3Event) => void): () => void;
  stop(): Promise<void>;
}

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/**
 * Encodes an object key the way S3 writes it into event notifications: form-URL-encoding (space as `+`,
 * `+` as `%2B`), slashes left alone. Consumers decode with `decodeURIComponent(key.replace(/\+/g, ' '))`.
 */
export function encodeS3EventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%20/g, '+')
    .replace(/%2F/gi, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex').toUpperCase();

/** Rewrites one of s3rver's records into the exact shape AWS delivers (encoded key, eventVersion 2.1, real ARN). */
function toAwsRecord(record: S3rverEvent['Records'][number], region: string): S3EventRecord {
  const { bucket, object } = record.s3;
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: region,
    eventTime: record.eventTime,
    eventName: record.eventName,
    userIdentity: { principalId: `AWS:${hex(10)}` },
    requestParameters: { sourceIPAddress: record.requestParameters.sourceIPAddress.replace(/^::ffff:/, '') },
    responseElements: {
      'x-amz-request-id': hex(8),
      'x-amz-id-2': randomBytes(48).toString('base64'),
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'ghostless-local',
      bucket: { name: bucket.name, ownerIdentity: { principalId: hex(7) }, arn: `arn:aws:s3:::${bucket.name}` },
      object: {
        key: encodeS3EventKey(object.key),
        size: object.size ?? 0,
        eTag: object.eTag ?? '',
        sequencer: object.sequencer.padStart(18, '0'),
      },
    },
  } as S3EventRecord;
}

/** Starts s3rver in-process on 127.0.0.1. */
export async function startS3Local(options: S3LocalOptions = {}): Promise<S3Local> {
  const region = options.region ?? 'us-east-1';
  const ownsDirectory = !options.dataDir;
  const directory = options.dataDir ? resolve(options.dataDir) : mkdtempSync(join(tmpdir(), 'ghostless-s3-'));
  mkdirSync(directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory,
    vhostBuckets: false,
  });
  // Before s3rver's router: the multipart operations it lacks (ListParts, Abort, NoSuchUpload).
  server.middleware.unshift(multipartGaps);
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const sockets = new Set<import('node:net').Socket>();
  server.httpServer.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port: address.port,
    directory,
    onObjectCreated(listener) {
      const onEvent = (event: S3rverEvent) => {
        for (const record of event.Records) {
          if (!record.eventName.startsWith('ObjectCreated:')) continue;
          listener({ Records: [toAwsRecord(record, region)] });
        }
      };
      server.on('event', onEvent);
      return () => server.off('event', onEvent);
    },
    stop() {
      stopping ??= (async () => {
        const closed = server.close();
        server.httpServer.closeIdleConnections();
        const timer = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, 1000);
        await closed.finally(() => clearTimeout(timer));
        if (ownsDirectory) rmSync(directory, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
