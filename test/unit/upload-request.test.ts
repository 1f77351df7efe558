import { describe, expect, it } from 'vitest';
import { TOOLS } from '../../lambdas/domain/catalog';
import { parseUploadRequest } from '../../lambdas/domain/upload-request';

const png = (slot: string, size = 100) => ({ slot, contentType: 'image/png', size });

describe('parseUploadRequest', () => {
  it('prices every tool as the catalogue says', () => {
    const cost = (tool: string, params: object, files: object[]) => parseUploadRequest({ tool, params, files }).cost;
    expect(cost('upscale-image', {}, [png('image')])).toBe(1);
    expect(cost('upscale-image', { scale: 4 }, [png('image')])).toBe(2);
    expect(cost('upscale-video', {}, [{ slot: 'video', contentType: 'video/quicktime', size: 1 }])).toBe(5);
    expect(cost('pose-changer', {}, [png('person'), png('pose')])).toBe(2);
    expect(cost('try-on', { category: 'bottom' }, [png('person'), png('garment')])).toBe(3);
  });

  it('fills defaults and keeps only known params', () => {
    expect(parseUploadRequest({ tool: 'upscale-image', files: [png('image')] }).params).toEqual({ scale: 2 });
    expect(parseUploadRequest({ tool: 'upscale-video', files: [{ slot: 'video', contentType: 'video/mp4', size: 1 }] }).params).toEqual({
      scale: 2,
    });
  });

  it('honours configured size limits', () => {
    const limits = { image: 50, video: 1000 };
    expect(() => parseUploadRequest({ tool: 'upscale-image', files: [png('image', 51)] }, limits)).toThrow(/limit/);
    expect(parseUploadRequest({ tool: 'upscale-image', files: [png('image', 50)] }, limits).files[0]?.size).toBe(50);
  });

  it('names the accepted types when refusing one', () => {
    expect(() =>
      parseUploadRequest({
        tool: 'try-on',
        params: { category: 'top' },
        files: [png('person'), { slot: 'garment', contentType: 'image/gif', size: 1 }],
      }),
    ).toThrow(/image\/jpeg, image\/png, image\/webp/);
  });

  it('does not treat inherited object keys as tools, params or slots', () => {
    expect(() => parseUploadRequest({ tool: 'constructor', files: [] })).toThrow(/Unknown tool/);
    expect(() => parseUploadRequest({ tool: 'upscale-image', params: { toString: 1 }, files: [png('image')] })).toThrow(/no parameter/);
    expect(() => parseUploadRequest({ tool: 'upscale-image', files: [png('__proto__')] })).toThrow(/no slot/);
  });

  it('covers the four tools of the spec', () => {
    expect(Object.keys(TOOLS).sort()).toEqual(['pose-changer', 'try-on', 'upscale-image', 'upscale-video']);
  });
});
