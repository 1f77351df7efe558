import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { outputKey } from '../../lambdas/domain/jobs';
import { BUNDLED_WORKFLOW_MAP_JSON } from '../../local/provider/workflows';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';
import { startRunningHubStub } from '../support/runninghub-stub';
import { startTestStack } from '../support/started-stack';

// The provider returns a PNG bigger than CollectOutputs' memory size: only a streamed collection gets it into S3,
// because the local runtime stops a sandbox whose memory (Buffers included) goes over that size.
const OUTPUT_BYTES = 300 * 1024 * 1024;
const png = await image('png', 64, 64);
const provider = await startRunningHubStub({ bytes: OUTPUT_BYTES, head: png.subarray(0, 64), fileType: 'png' });
// The stub stands in for an external RunningHub endpoint: all three variables, with the map the assembly was built with.
const stack = await startTestStack({
  RUNNINGHUB_BASE_URL: provider.url,
  RUNNINGHUB_API_KEY: 'big-output-key',
  RUNNINGHUB_WORKFLOWS: BUNDLED_WORKFLOW_MAP_JSON,
});

afterAll(async () => {
  await stack.stop();
  await provider.stop();
});

describe('collecting a big output', () => {
  it('streams an output larger than the collecting function’s memory into S3', async () => {
    const collector = stack.lambda.spec(stack.functionName('collect-outputs'));
    expect(OUTPUT_BYTES).toBeGreaterThan(collector.memorySize * 1024 * 1024);

    const user = await stack.api.user(`big-output-${Date.now()}`, 5);
    const jobId = await stack.api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }]);
    const job = await stack.api.waitForJob(user.token, jobId, (j) => ['succeeded', 'failed'].includes(j.status), 120_000);
    expect(job).toMatchObject({ status: 'succeeded', outputs: [{ contentType: 'image/png', bytes: OUTPUT_BYTES }] });

    const s3 = new S3Client({ endpoint: stack.s3Endpoint, forcePathStyle: true });
    const head = await s3.send(new HeadObjectCommand({ Bucket: stack.bucketName, Key: outputKey(jobId, 0) }));
    expect(head.ContentLength).toBe(OUTPUT_BYTES);
    expect(provider.calls).toContain('/files/output.png');
    await assertInvariants(stack);
  }, 180_000);
});
