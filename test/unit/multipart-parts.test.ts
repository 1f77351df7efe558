import { describe, expect, it } from 'vitest';
import { checkParts, MIN_PART_BYTES, partCountOf, partLength } from '../../lambdas/domain/multipart';

const MiB = 1024 * 1024;
const size = 12 * MiB + 7;
const plan = { partSize: 5 * MiB, partCount: partCountOf(size, 5 * MiB) };
const part = (partNumber: number, bytes = partLength(partNumber, size, plan.partSize)) => ({
  partNumber,
  size: bytes,
  etag: `"${partNumber}"`,
});

describe('multipart arithmetic', () => {
  it('cuts a file into full parts and a shorter last one', () => {
    expect(plan.partCount).toBe(3);
    expect([1, 2, 3].map((n) => partLength(n, size, plan.partSize))).toEqual([5 * MiB, 5 * MiB, 2 * MiB + 7]);
    expect(partCountOf(10 * MiB, 5 * MiB)).toBe(2);
  });

  it('accepts exactly the declared parts, in any order', () => {
    expect(checkParts([part(3), part(1), part(2)], size, plan)).toEqual({ kind: 'complete' });
  });

  it('names the missing parts without calling the upload wrong', () => {
    expect(checkParts([part(2)], size, plan)).toEqual({ kind: 'missing', partNumbers: [1, 3] });
    expect(checkParts([], size, plan)).toEqual({ kind: 'missing', partNumbers: [1, 2, 3] });
  });

  it('calls a part of another length, or beyond the last, wrong', () => {
    expect(checkParts([part(1), part(2), part(3, 2 * MiB + 8)], size, plan)).toMatchObject({
      kind: 'wrong',
      reason: expect.stringContaining('Part 3'),
    });
    expect(checkParts([part(1), part(2), part(3), part(4, 1)], size, plan)).toMatchObject({
      kind: 'wrong',
      reason: expect.stringContaining('beyond'),
    });
    expect(checkParts([part(1, 5 * MiB - 1), part(2), part(3)], size, plan)).toMatchObject({ kind: 'wrong' });
  });

  it('calls part 0 wrong though it has a full part’s length', () => {
    expect(checkParts([part(0, 5 * MiB), part(1), part(2), part(3)], size, plan)).toEqual({
      kind: 'wrong',
      reason: 'Part 0 is beyond the 3 parts of this file.',
    });
    expect(checkParts([part(1), part(2), part(3), part(4, 1)], size, plan)).toEqual({
      kind: 'wrong',
      reason: 'Part 4 is beyond the 3 parts of this file.',
    });
  });

  it('calls parts that add up to more than the declared size wrong, though each has its length', () => {
    expect(checkParts([part(1), part(2), part(2), part(3)], size, plan)).toEqual({
      kind: 'wrong',
      reason: `The parts add up to ${size + 5 * MiB} bytes, not the declared ${size}.`,
    });
  });

  it('never plans parts below S3’s 5 MiB minimum', () => {
    expect(MIN_PART_BYTES).toBe(5 * MiB);
  });
});
