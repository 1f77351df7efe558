import { describe, expect, it } from 'vitest';
import { FileTooLarge, InvalidRequest, UnsupportedMediaType } from '../../lambdas/domain/errors';
import { parseUploadRequest } from '../../lambdas/domain/upload-request';

const png = (slot: string, size = 100) => ({ slot, contentType: 'image/png', size });
const refusal = (body: unknown) => {
  try {
    parseUploadRequest(body);
  } catch (error) {
    return error;
  }
  return null;
};

describe('parseUploadRequest refusals', () => {
  it('names what is wrong with the body, the tool or the params', () => {
    expect(refusal(null)).toEqual(new InvalidRequest('The body must be a JSON object with tool, params and files.'));
    expect(refusal([])).toEqual(new InvalidRequest('The body must be a JSON object with tool, params and files.'));
    expect(refusal('upscale-image')).toEqual(new InvalidRequest('The body must be a JSON object with tool, params and files.'));
    expect(refusal({ tool: 'nope', files: [] })).toEqual(
      new InvalidRequest('Unknown tool; use one of upscale-image, upscale-video, pose-changer, try-on.'),
    );
    expect(refusal({ tool: 'upscale-image', params: [], files: [png('image')] })).toEqual(new InvalidRequest('params must be an object.'));
    expect(refusal({ tool: 'upscale-image', params: { colour: 1 }, files: [png('image')] })).toEqual(
      new InvalidRequest('upscale-image takes no parameter "colour".'),
    );
    expect(refusal({ tool: 'try-on', files: [png('person'), png('garment')] })).toEqual(
      new InvalidRequest('try-on needs "category": one of top, bottom, full.'),
    );
    expect(refusal({ tool: 'upscale-image', params: { scale: 3 }, files: [png('image')] })).toEqual(
      new InvalidRequest('"scale" must be one of 2, 4.'),
    );
  });

  it('names what is wrong with the files', () => {
    expect(refusal({ tool: 'pose-changer', files: {} })).toEqual(
      new InvalidRequest('files must be a list with one entry per slot: person, pose.'),
    );
    expect(refusal({ tool: 'upscale-image', files: [null] })).toEqual(
      new InvalidRequest('Each file must be an object with slot, contentType and size.'),
    );
    expect(refusal({ tool: 'upscale-image', files: [['image']] })).toEqual(
      new InvalidRequest('Each file must be an object with slot, contentType and size.'),
    );
    expect(refusal({ tool: 'upscale-image', files: [png('video')] })).toEqual(
      new InvalidRequest('upscale-image has no slot "video"; its slots are image.'),
    );
    expect(refusal({ tool: 'upscale-video', files: [png('image')] })).toEqual(
      new InvalidRequest('upscale-video has no slot "image"; its slots are video.'),
    );
    expect(refusal({ tool: 'upscale-image', files: [{ ...png('image'), slot: 7 }] })).toEqual(
      new InvalidRequest('upscale-image has no slot "7"; its slots are image.'),
    );
    expect(refusal({ tool: 'upscale-image', files: [png('image'), png('image')] })).toEqual(
      new InvalidRequest('Slot "image" appears twice.'),
    );
    expect(refusal({ tool: 'pose-changer', files: [png('pose')] })).toEqual(new InvalidRequest('Missing file for person.'));
    expect(refusal({ tool: 'pose-changer', files: [] })).toEqual(new InvalidRequest('Missing file for person, pose.'));
  });

  it('accepts only a positive whole number of bytes as a size', () => {
    for (const size of [0, -1, 1.5, '10', Number.MAX_SAFE_INTEGER + 1, Number.NaN, null]) {
      expect(refusal({ tool: 'upscale-image', files: [{ ...png('image'), size }] })).toEqual(
        new InvalidRequest('The size of "image" must be a positive whole number of bytes.'),
      );
    }
    expect(refusal({ tool: 'upscale-image', files: [png('image', 1)] })).toBeNull();
  });

  it('refuses a type the slot does not take, and a file over the limit of its kind', () => {
    expect(refusal({ tool: 'upscale-image', files: [{ ...png('image'), contentType: 'video/mp4' }] })).toBeInstanceOf(UnsupportedMediaType);
    expect(refusal({ tool: 'upscale-image', files: [{ ...png('image'), contentType: 5 }] })).toBeInstanceOf(UnsupportedMediaType);
    expect(refusal({ tool: 'upscale-image', files: [png('image', 20 * 1024 * 1024 + 1)] })).toEqual(
      new FileTooLarge('image', 20 * 1024 * 1024),
    );
    expect(refusal({ tool: 'upscale-image', files: [png('image', 20 * 1024 * 1024)] })).toBeNull();
    expect(refusal({ tool: 'upscale-video', files: [{ slot: 'video', contentType: 'video/mp4', size: 500 * 1024 * 1024 + 1 }] })).toEqual(
      new FileTooLarge('video', 500 * 1024 * 1024),
    );
  });
});
