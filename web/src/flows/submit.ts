import { TOOLS } from '../../../lambdas/domain/catalog';
import { DomainError } from '../../../lambdas/domain/errors';
import { parseUploadRequest } from '../../../lambdas/domain/upload-request';
import { type Api, ApiError, type Job, type MultipartUpload, type PresignedUpload, type UploadRequestBody } from '../api';
import type { GhostlessConfig } from '../config';
import { t } from '../i18n';
import { uploadInParts } from '../multipart-upload';
import { keepOriginal } from '../originals';
import { findResume, forgetResume, saveResume } from '../resume-records';
import { type AppStore, blockReason, currentCost, type UploadRow } from '../state';
import { postToS3, UploadError, type UploadHandle } from '../upload';
import { speedMeter } from '../upload-speed';
import { describeApiError, describeError, describeUploadError, slotLabel } from '../words';
import type { JobFlow } from './job';

/** Some pickers leave File.type empty (or say image/jpg): fall back on the extension. */
const TYPE_BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
};
function contentTypeOf(file: File) {
  if (file.type === 'image/jpg') return 'image/jpeg';
  if (file.type) return file.type;
  return TYPE_BY_EXTENSION[file.name.split('.').pop()?.toLowerCase() ?? ''] ?? 'application/octet-stream';
}

export interface SubmitUi {
  focusMissing(slot: string): void;
  focusJob(): void;
  activeJobDialog(job: Job): void;
}

/**
 * "Enviar": check the files with the API's own rules, check the balance and the active job (what the API
 * would refuse with 402/409, which the browser would log as failed resources), presign, upload, then hand
 * the job over to the job flow.
 */
export function submitFlow(store: AppStore, api: Api, config: GhostlessConfig, jobs: () => JobFlow, ui: SubmitUi) {
  const fail = (formError: string) => store.set({ submitting: false, formError });

  async function submit() {
    const s = store.get();
    if (s.submitting || blockReason(s)?.kind === 'busy') return;
    const text = t();
    const tool = s.tool;
    const chosen = s.files[tool];
    const missing = Object.keys(TOOLS[tool].slots).find((slot) => !chosen[slot]);
    if (missing) {
      store.set({ formError: text.missingFile(slotLabel(missing)) });
      ui.focusMissing(missing);
      return;
    }
    const files = Object.keys(TOOLS[tool].slots).map((slot) => ({ slot, file: chosen[slot] as File }));
    const body: UploadRequestBody = {
      tool,
      params: { ...s.params[tool] },
      files: files.map(({ slot, file }) => ({ slot, contentType: contentTypeOf(file), size: file.size })),
    };
    // The API's own validation, run here first: same codes, same details, no round trip.
    try {
      parseUploadRequest(body, config.limits);
    } catch (error) {
      if (error instanceof DomainError) return fail(describeError(error.code, error.message, error.details));
      throw error;
    }

    store.set({ submitting: true, formError: null });
    try {
      const [balance, active] = await Promise.all([api.credits(), api.activeJob()]);
      store.set({ balance });
      if (active) {
        store.set({ submitting: false });
        return ui.activeJobDialog(active);
      }
      // Short: "Enviar" is now disabled and says why (derived from the balance, so it clears by itself).
      if (balance < currentCost(store.get())) return store.set({ submitting: false });
    } catch (error) {
      return fail(describeApiError(error));
    }

    // The same file picked again after a drop or a reload continues its upload from the parts already stored.
    const resumed = await resumeUpload(tool, files);
    if (resumed) return upload(resumed.jobId, [resumed], files, tool);

    let presigned: Awaited<ReturnType<Api['createUpload']>>;
    try {
      presigned = await api.createUpload(body);
    } catch (error) {
      // Only a race with another device gets here (the checks above passed a moment ago).
      if (error instanceof ApiError && error.code === 'ACTIVE_JOB' && error.body.activeJob) {
        store.set({ submitting: false });
        return ui.activeJobDialog(error.body.activeJob as Job);
      }
      if (error instanceof ApiError && error.code === 'INSUFFICIENT_CREDITS') {
        return store.set({ submitting: false, balance: Number(error.body.balance) });
      }
      return fail(describeApiError(error));
    }
    await upload(presigned.jobId, presigned.uploads, files, tool);
  }

  /** A single-file resumable upload this browser started for the same file and tool, if the server still holds it. */
  async function resumeUpload(tool: string, files: { slot: string; file: File }[]) {
    const [only] = files;
    const record = files.length === 1 && only ? findResume(tool, only.file) : null;
    if (!record || !only) return null;
    try {
      const answer = await api.uploadParts(record.jobId, record.slot);
      const stored = answer.stored.reduce((sum, part) => sum + part.size, 0);
      return { ...answer, jobId: record.jobId, resumedBytes: stored };
    } catch {
      forgetResume(tool, only.file); // expired, completed or not ours: start over
      return null;
    }
  }

  async function upload(
    jobId: string,
    uploads: ((PresignedUpload | MultipartUpload) & { resumedBytes?: number })[],
    files: { slot: string; file: File }[],
    tool: string,
  ) {
    const rows: UploadRow[] = files.map(({ slot, file }) => ({ slot, fileName: file.name, loaded: 0, total: file.size, done: false }));
    const handles: UploadHandle[] = [];
    const abort = () => {
      for (const handle of handles) handle.abort();
    };
    const ours = () => {
      const phase = store.get().phase;
      return phase.kind === 'uploading' && phase.jobId === jobId;
    };
    const changed = () => {
      const phase = store.get().phase;
      if (ours() && phase.kind === 'uploading') store.set({ phase: { ...phase, rows: [...rows] } });
    };
    store.set({ phase: { kind: 'uploading', jobId, rows, abort } });
    ui.focusJob();
    for (const presigned of uploads) {
      const file = files.find((f) => f.slot === presigned.slot)?.file;
      const row = rows.find((r) => r.slot === presigned.slot);
      if (!file || !row) continue;
      const meter = speedMeter();
      const progress = (loaded: number, total: number) => {
        Object.assign(row, { loaded, total, ...meter(loaded, total) });
        changed();
      };
      row.resumedBytes = presigned.resumedBytes;
      let handle: UploadHandle;
      if ('multipart' in presigned) {
        if (files.length === 1) saveResume(tool, file, { jobId, slot: presigned.slot, uploadId: presigned.multipart.uploadId });
        handle = uploadInParts(api, jobId, presigned, file, progress);
      } else {
        handle = postToS3(presigned, file, progress);
      }
      handles.push(handle);
      handle.done.then(
        () => {
          Object.assign(row, { done: true, loaded: row.total });
          changed();
        },
        () => {}, // reported once, below
      );
    }
    try {
      await Promise.all(handles.map((handle) => handle.done));
    } catch (error) {
      abort();
      // A dropped connection keeps the resume record: picking the same file again continues.
      const dropped = (error instanceof UploadError && error.code === 'network') || (error instanceof ApiError && error.code === 'NETWORK');
      if (!dropped) for (const { file } of files) forgetResume(tool, file);
      store.set({ phase: { kind: 'idle' } });
      return fail(describeUploadError(error));
    }
    for (const { file } of files) forgetResume(tool, file);
    // This device keeps the original, for the before/after slider (also from history, after a reload).
    const original = files.find(({ slot }) => slot === 'image' || slot === 'person');
    if (original) await keepOriginal(jobId, original.file);
    store.set({ submitting: false });
    jobs().waitCreated(jobId);
  }

  return { submit };
}
