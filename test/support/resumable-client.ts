import type { Reply } from '../../local/api-client';

export interface PartUrl {
  partNumber: number;
  url: string;
}

export interface MultipartAnswer {
  jobId: string;
  uploads: { slot: string; url?: string; multipart?: { uploadId: string; partSize: number; partCount: number; parts: PartUrl[] } }[];
}

type Call = <T>(method: string, path: string, options?: { token?: string; body?: unknown }) => Promise<Reply<T>>;

/** A resumable upload driven over HTTP as the SPA does it: request, PUT parts, ask what is stored, complete. */
export function resumableClient(call: Call, token: string) {
  const request = (size: number, contentType = 'video/mp4') =>
    call<MultipartAnswer>('POST', '/api/uploads', {
      token,
      body: { tool: 'upscale-video', files: [{ slot: 'video', contentType, size }] },
    });

  /** Sends part `partNumber` of `file` (its bytes cut by `partSize`); answers the gateway's status and ETag. */
  async function putPart(url: string, file: Uint8Array, partNumber: number, partSize: number) {
    const body = file.slice((partNumber - 1) * partSize, partNumber * partSize);
    const response = await fetch(url, { method: 'PUT', body });
    return { status: response.status, etag: response.headers.get('etag'), text: await response.text(), bytes: body.length };
  }

  const parts = (jobId: string, as = token) =>
    call<{ multipart: { parts: PartUrl[] }; stored: { partNumber: number; size: number }[] }>('GET', `/api/uploads/${jobId}/video/parts`, {
      token: as,
    });
  const complete = (jobId: string, as = token) => call('POST', `/api/uploads/${jobId}/video/complete`, { token: as });
  return { request, putPart, parts, complete };
}
