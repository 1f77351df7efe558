import { services } from '../runtime';
import { created, httpApi, ok } from './middleware';

const { admission, queries } = services;

export const handler = httpApi({
  'GET /api/health': async () => ok({ ok: true }),
  'POST /api/uploads': async (req) => created(await admission.requestUpload(req.userId(), req.json())),
  'GET /api/jobs/active': async (req) => ok({ job: await queries.activeJob(req.userId()) }),
  'GET /api/jobs/{jobId}': async (req) => ok(await queries.getJob(req.userId(), req.path('jobId'))),
  'GET /api/jobs': async (req) => ok(await queries.listJobs(req.userId(), req.query)),
  'GET /api/credits': async (req) => ok(await queries.credits(req.userId())),
});
