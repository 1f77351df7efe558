/**
 * The picture a job started from, kept on this device (IndexedDB) so the before/after slider works for
 * results reopened from history and after a reload: the API returns only outputs. Kept as long as the
 * server keeps the result (7 days); a device without IndexedDB simply shows the result alone.
 */

const DB = 'ghostless';
const STORE = 'originals';
const KEEP_MS = 7 * 24 * 3600 * 1000;

interface Original {
  jobId: string;
  blob: Blob;
  at: number;
}

let opened: Promise<IDBDatabase | null> | null = null;
function db(): Promise<IDBDatabase | null> {
  opened ??= new Promise((resolve) => {
    try {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'jobId' });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
    } catch {
      resolve(null);
    }
  });
  return opened;
}

function run<T>(mode: IDBTransactionMode, use: (store: IDBObjectStore) => IDBRequest<T>): Promise<T | undefined> {
  return db().then(
    (database) =>
      new Promise((resolve) => {
        if (!database) return resolve(undefined);
        const request = use(database.transaction(STORE, mode).objectStore(STORE));
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => resolve(undefined);
      }),
  );
}

/** Object URLs already made in this page, so a job reopened twice does not leak a second one. */
const urls = new Map<string, string>();

export async function keepOriginal(jobId: string, blob: Blob) {
  urls.set(jobId, URL.createObjectURL(blob));
  await run('readwrite', (store) => store.put({ jobId, blob, at: Date.now() } satisfies Original));
  // Forget what the server no longer has.
  const all = (await run('readonly', (store) => store.getAll() as IDBRequest<Original[]>)) ?? [];
  for (const old of all.filter((o) => Date.now() - o.at > KEEP_MS)) await run('readwrite', (store) => store.delete(old.jobId));
}

export async function originalUrl(jobId: string): Promise<string | null> {
  const known = urls.get(jobId);
  if (known) return known;
  const found = (await run('readonly', (store) => store.get(jobId) as IDBRequest<Original | undefined>)) ?? undefined;
  if (!found) return null;
  const url = URL.createObjectURL(found.blob);
  urls.set(jobId, url);
  return url;
}
