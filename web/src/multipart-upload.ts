import { type Api, ApiError, type MultipartUpload } from './api';
import { parseS3Error, UploadError, type UploadHandle } from './upload';

/** Parts in flight at once: enough to fill a phone's uplink, few enough that a drop loses little. */
const PARALLEL_PARTS = 4;
const ATTEMPTS_PER_PART = 5;
const backoffMs = (attempt: number) => Math.min(8000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type PartsApi = Pick<Api, 'uploadParts' | 'completeUpload'>;

const partLength = (n: number, size: number, partSize: number) => Math.min(partSize, size - (n - 1) * partSize);

/**
 * Sends a big file as presigned part PUTs, several at a time, each retried with backoff (a part whose URL expired
 * gets a fresh one), then asks the server to complete. Parts not listed in `upload.multipart.parts` are already
 * stored (a resumed upload) and count as sent.
 */
export function uploadInParts(
  api: PartsApi,
  jobId: string,
  upload: MultipartUpload,
  file: Blob,
  onProgress: (loaded: number, total: number) => void,
): UploadHandle {
  const { partSize } = upload.multipart;
  const urls = new Map(upload.multipart.parts.map((p) => [p.partNumber, p.url]));
  const queue = [...urls.keys()];
  const inFlight = new Map<number, number>();
  const requests = new Set<XMLHttpRequest>();
  let sent = file.size - queue.reduce((sum, n) => sum + partLength(n, file.size, partSize), 0);
  let aborted = false;
  /** Set once the upload has failed: workers take no further part. */
  let stopped = false;
  let refreshing: Promise<void> | null = null;

  const report = () => onProgress(Math.min(file.size, sent + [...inFlight.values()].reduce((a, b) => a + b, 0)), file.size);

  /** Fresh URLs for every part not stored yet (the old ones expired, or the part list changed). */
  function refresh() {
    refreshing ??= api
      .uploadParts(jobId, upload.slot)
      .then((fresh) => {
        for (const part of fresh.multipart.parts) urls.set(part.partNumber, part.url);
      })
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  }

  function put(n: number) {
    const xhr = new XMLHttpRequest();
    requests.add(xhr);
    const body = file.slice((n - 1) * partSize, (n - 1) * partSize + partLength(n, file.size, partSize));
    return new Promise<void>((resolve, reject) => {
      xhr.open('PUT', urls.get(n) as string);
      xhr.upload.onprogress = (event) => {
        inFlight.set(n, event.loaded);
        report();
      };
      xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(parseS3Error(xhr.status, xhr.responseText)));
      xhr.onerror = () => reject(new UploadError('network', 'Network error'));
      xhr.onabort = () => reject(new UploadError('aborted', 'Cancelled'));
      xhr.send(body);
    }).finally(() => {
      requests.delete(xhr);
      inFlight.delete(n);
    });
  }

  async function sendPart(n: number) {
    for (let attempt = 0; ; attempt++) {
      try {
        await put(n);
        sent += partLength(n, file.size, partSize);
        report();
        return;
      } catch (error) {
        report();
        if (aborted || attempt + 1 >= ATTEMPTS_PER_PART) throw error;
        await sleep(backoffMs(attempt));
        if (aborted) throw new UploadError('aborted', 'Cancelled');
        // An expired or refused URL: ask for fresh ones before the next try.
        if (error instanceof UploadError && error.status === 403) await refresh();
      }
    }
  }

  async function worker() {
    for (let n = queue.shift(); n !== undefined && !stopped; n = queue.shift()) await sendPart(n);
  }

  /** Completing is idempotent on the server: a lost answer is asked again. */
  async function complete() {
    for (let attempt = 0; ; attempt++) {
      try {
        return await api.completeUpload(jobId, upload.slot);
      } catch (error) {
        const transient = error instanceof ApiError && (error.code === 'NETWORK' || error.status >= 500);
        if (!transient || attempt + 1 >= ATTEMPTS_PER_PART || aborted) throw error;
        await sleep(backoffMs(attempt));
      }
    }
  }

  async function run() {
    for (let round = 0; ; round++) {
      await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, queue.length) }, worker));
      try {
        await complete();
        onProgress(file.size, file.size);
        return;
      } catch (error) {
        // The server saw a part missing (a lost answer): send those again, once.
        if (!(error instanceof ApiError && error.code === 'PARTS_MISSING') || round > 0) throw error;
        const missing = (error.body.missing ?? []) as number[];
        await refresh();
        for (const n of missing) sent -= partLength(n, file.size, partSize);
        queue.push(...missing);
      }
    }
  }

  return {
    done: run().catch((error) => {
      stopped = true;
      for (const xhr of requests) xhr.abort();
      throw aborted ? new UploadError('aborted', 'Cancelled') : error;
    }),
    abort: () => {
      aborted = true;
      for (const xhr of requests) xhr.abort();
    },
  };
}
