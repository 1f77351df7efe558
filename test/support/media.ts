import sharp from 'sharp';

/** Real image bytes, made on the fly, so the magic-byte checks see genuine files. */
export function image(format: 'png' | 'jpeg' | 'webp' = 'png', width = 8, height = 6) {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } } })
    .toFormat(format)
    .toBuffer()
    .then((buffer) => new Uint8Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.length)) as Uint8Array<ArrayBuffer>);
}

/** The start of an ISO-BMFF file with an mp4 brand: enough for a type sniffer, not a playable video. */
export function mp4Header() {
  const box = Buffer.alloc(32);
  box.writeUInt32BE(32, 0);
  box.write('ftypisom', 4, 'latin1');
  box.writeUInt32BE(512, 12);
  box.write('isomiso2avc1mp41', 16, 'latin1');
  return new Uint8Array(box);
}

export const textFile = (text = 'hello, I am not a picture') => new TextEncoder().encode(text);
