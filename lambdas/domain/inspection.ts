import { fileTypeFromBuffer } from 'file-type';
import type { UploadIntent } from './jobs';

/** How many leading bytes are enough to recognise every accepted type. */
export const SNIFF_BYTES = 4100;

export interface StoredObject {
  bytes: number;
  head: Uint8Array;
}

/**
 * Compares what S3 really holds with what the client declared. Returns why the input is unacceptable,
 * or null. The bytes decide the type: a text file named .png is not a PNG.
 */
export async function inspectInput(declared: UploadIntent['files'][string], actual: StoredObject): Promise<string | null> {
  if (actual.bytes !== declared.size) {
    return `The stored file has ${actual.bytes} bytes, but ${declared.size} were declared.`;
  }
  const sniffed = await fileTypeFromBuffer(actual.head);
  if (!sniffed) return `The file is not a ${declared.contentType} file.`;
  if (sniffed.mime !== declared.contentType) {
    return `The file is ${sniffed.mime}, but it was declared as ${declared.contentType}.`;
  }
  return null;
}
