import { parseWebhook } from '../adapters/runninghub-protocol';
import { services } from '../runtime';
import { created, httpApi, ok } from './middleware';

const { admission, uploads, queries, lifecycle, queue, views, credits, push } = services;

export const handler = httpApi({
  'GET /api/health': async () => ok({ ok: true }),
  'POST /api/uploads': async (req) => created(await admission.requestUpload(req.userId(), req.json())),
  'GET /api/jobs/active': async (req) => ok({ job: await queries.activeJob(req.userId()) }),
  'GET /api/jobs/{jobId}': async (req) => ok(await queries.getJob(req.userId(), req.path('jobId'))),
  'GET /api/jobs': async (req) => ok(await queries.listJobs(req.userId(), req.query)),
  'GET /api/credits': async (req) => ok(await queries.credits(req.userId())),
  'GET /api/credits/ledger': async (req) => ok(await queries.ledger(req.userId(), req.query)),
  'POST /api/jobs/{jobId}/cancel': async (req) => ok(await views.toJob(await lifecycle.cancel(req.userId(), req.path('jobId')))),
  'POST /api/queue/release': async (req) => {
    const userId = req.userId();
    return ok(await lifecycle.releaseQueue(userId, await credits.activeJobId(userId)));
  },
  'GET /api/queue': async () => ok(await queue.stats()),
  'GET /api/push/key': async () => ok(await push.publicKey()),
  'PUT /api/push/subscription': async (req) => ok(await push.subscribe(req.userId(), req.json())),
  'DELETE /api/push/subscription': async (req) => ok(await push.unsubscribe(req.userId(), req.json())),
  'GET /api/uploads/{jobId}/{slot}/parts': async (req) => ok(await uploads.resume(req.userId(), req.path('jobId'), req.path('slot'))),
  'POST /api/uploads/{jobId}/{slot}/complete': async (req) => ok(await uploads.complete(req.userId(), req.path('jobId'), req.path('slot'))),
  'POST /api/provider/callback/{jobId}': async (req) =>
    ok(await lifecycle.onProviderCallback(req.path('jobId'), req.query.secret, parseWebhook(req.text()))),
});
