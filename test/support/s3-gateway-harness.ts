import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3RVER_CREDENTIALS, startS3Local } from '../../local/emulators/s3';
import { createS3Gateway } from '../../local/s3-gateway';

/**
 * s3rver behind the local S3 gateway on a free port, with one bucket: a presigning client pointed at the gateway (as
 * the handlers configure it locally), a client talking to s3rver directly, and a clock the test can shift.
 */
export async function startGatewayHarness(bucket: string) {
  const s3 = await startS3Local();
  let clockOffsetMs = 0;
  const gateway = createS3Gateway({ s3Endpoint: s3.endpoint, now: () => new Date(Date.now() + clockOffsetMs) });
  const server = createServer((req, res) => void gateway(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const gatewayBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}/s3`;
  const common = {
    region: 'us-east-1',
    credentials: S3RVER_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  } as const;
  const presigner = new S3Client({ ...common, endpoint: gatewayBase });
  const direct = new S3Client({ ...common, endpoint: s3.endpoint });
  await direct.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    s3,
    gatewayBase,
    presigner,
    direct,
    /** Moves the gateway's clock, to see expired URLs and policies without waiting. */
    shiftClock(ms: number) {
      clockOffsetMs = ms;
    },
    async stop() {
      presigner.destroy();
      direct.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await s3.stop();
    },
  };
}
