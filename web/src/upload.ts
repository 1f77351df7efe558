import type { PresignedUpload } from './api';

/** Why an upload did not store the file. */
export class UploadError extends Error {
  constructor(
    /** 'aborted' (the user cancelled), 'network' (no answer), or S3's error code (AccessDenied, EntityTooLarge…). */
    readonly code: string,
    message: string,
    readonly status = 0,
  ) {
    super(message);
    this.name = 'UploadError';
  }
}

export interface UploadHandle {
  done: Promise<void>;
  abort(): void;
}

/** S3 answers errors as `<Error><Code>…</Code><Message>…</Message></Error>`. */
export function parseS3Error(status: number, text: string): UploadError {
  let code = `HTTP_${status}`;
  let message = '';
  try {
    const xml = new DOMParser().parseFromString(text, 'application/xml');
    code = xml.querySelector('Error > Code')?.textContent?.trim() || code;
    message = xml.querySelector('Error > Message')?.textContent?.trim() || '';
  } catch {
    /* not XML */
  }
  return new UploadError(code, message || `HTTP ${status}`, status);
}

/**
 * Sends one presigned S3 POST: every field, then the file, as multipart/form-data. XHR (not fetch) because
 * only XHR reports upload progress.
 */
export function postToS3(upload: PresignedUpload, file: Blob, onProgress: (loaded: number, total: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const done = new Promise<void>((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append('file', file, file instanceof File ? file.name : 'file');
    xhr.open('POST', upload.url);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
      } else reject(parseS3Error(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => reject(new UploadError('network', 'Network error'));
    xhr.ontimeout = () => reject(new UploadError('network', 'Timed out'));
    xhr.onabort = () => reject(new UploadError('aborted', 'Cancelled'));
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}
