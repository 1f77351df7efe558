/**
 * Which resumable upload a picked file belongs to, kept across reloads: the same file (name, size, date) for the
 * same tool continues its upload instead of starting over. Only ids are kept, never bytes.
 */
export interface ResumeRecord {
  jobId: string;
  slot: string;
  uploadId: string;
}

const PREFIX = 'ghostless.resume.';
/** S3 aborts an unfinished upload after a day; an older record can only point at nothing. */
const MAX_AGE_MS = 24 * 3600 * 1000;

const keyOf = (tool: string, file: File) => `${PREFIX}${tool}|${file.name}|${file.size}|${file.lastModified}`;

export function saveResume(tool: string, file: File, record: ResumeRecord) {
  try {
    localStorage.setItem(keyOf(tool, file), JSON.stringify({ ...record, savedAt: Date.now() }));
  } catch {
    /* private mode or full storage: the upload still works, it just cannot resume */
  }
}

export function findResume(tool: string, file: File): ResumeRecord | null {
  try {
    const raw = localStorage.getItem(keyOf(tool, file));
    const record = raw ? (JSON.parse(raw) as ResumeRecord & { savedAt: number }) : null;
    if (record && Date.now() - record.savedAt < MAX_AGE_MS) return record;
    if (record) forgetResume(tool, file);
  } catch {
    /* unreadable: start over */
  }
  return null;
}

export function forgetResume(tool: string, file: File) {
  try {
    localStorage.removeItem(keyOf(tool, file));
  } catch {
    /* nothing kept */
  }
}
