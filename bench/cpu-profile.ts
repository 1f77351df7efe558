/** A CPU profile of a phase (main thread), summarized by where the code lives. */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

/** Starts the V8 sampling profiler on this thread; `stop()` returns self time (ms) per code area, largest first. */
export async function startCpuProfile() {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = (await session.post('Profiler.stop')) as unknown as {
        profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
      };
      session.disconnect();
      const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
      const areas = new Map<string, number>();
      profile.samples.forEach((id, i) => {
        const node = nodes.get(id);
        const area = node ? codeArea(node.callFrame.url, node.callFrame.functionName) : 'other';
        areas.set(area, (areas.get(area) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
      });
      return [...areas].sort((a, b) => b[1] - a[1]);
    },
  };
}

function codeArea(url: string, fn: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) {
    if (pkg.startsWith('@smithy/') || pkg.startsWith('@aws-sdk/')) return 'AWS SDK (serialize, sign, parse, retry)';
    if (pkg === 's3rver' || pkg.startsWith('koa') || pkg.startsWith('@koa/') || pkg === 'fast-xml-parser') return 's3rver (Koa)';
    if (pkg === 'busboy' || pkg === 'streamsearch') return 'S3 gateway (busboy)';
    if (pkg === 'jose') return 'JWT (jose)';
    if (pkg === 'aws-local-stepfunctions' || pkg === 'jsonpath-plus' || pkg === 'lodash') return 'Step Functions interpreter';
    if (pkg.startsWith('@middy/') || pkg.startsWith('@aws-lambda-powertools/')) return 'handlers (middy, powertools)';
    if (pkg === 'file-type' || pkg === 'strtok3' || pkg === 'token-types') return 'input sniffing (file-type)';
    return `other package: ${pkg}`;
  }
  if (url.includes('/local/s3-gateway') || url.includes('/local/s3-post-policy') || url.includes('/local/sigv4'))
    return 'S3 gateway (policy, SigV4)';
  if (url.includes('/local/stepfunctions/')) return 'Step Functions interpreter';
  if (url.includes('/local/')) return 'local adapter (HTTP adapter, auth, stack)';
  if (url.includes('/lambdas/')) return 'handlers and domain code';
  if (url.includes('/bench/')) return 'bench client';
  if (url.includes('undici') || url.startsWith('node:internal/deps/undici')) return 'fetch (undici)';
  if (/^node:(_http|http|net|internal\/http|internal\/stream|internal\/streams|stream|internal\/webstreams)/.test(url))
    return 'Node HTTP and streams';
  if (url.startsWith('node:internal/crypto') || url.startsWith('node:crypto')) return 'crypto (hashing, HMAC)';
  if (url.startsWith('node:internal/fs') || url.startsWith('node:fs')) return 'filesystem';
  if (url.startsWith('node:')) return 'Node internals (events, timers, buffers)';
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return 'V8 / native (program)';
  if (!url) return `native: ${fn || 'anonymous'}`;
  return 'other';
}
