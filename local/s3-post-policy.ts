import { S3Error } from './s3-errors';
import { type Credentials, parseAmzDate, parseCredential, policySignature, sameSignature } from './sigv4';

/**
 * The checks S3 applies to a browser-based POST upload (SigV4): signature over the base64 policy, policy
 * expiration and every condition, and no form field left uncovered by the policy.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html
 */

export interface PostFormInput {
  /** The bucket from the URL. */
  bucket: string;
  /** The form fields that came before the `file` part, in order (names as sent). */
  fields: [string, string][];
  /** The uploaded file's name, for `${filename}` in the key. */
  filename?: string;
  /** The secret of an access key S3 knows (undefined: unknown key). */
  keys: (accessKeyId: string) => Credentials | undefined;
  region: string;
  now?: Date;
}

export interface CheckedPostForm {
  key: string;
  /** Who signed the policy: S3 authorizes the upload as that identity. */
  accessKeyId: string;
  /** Inclusive byte range from `content-length-range`, if the policy has one. */
  lengthRange?: { min: number; max: number };
  /** Fields to store with the object (Content-Type, x-amz-meta-*, success_action_*…), names as sent. */
  objectFields: [string, string][];
}

/** S3 substitutes the uploaded file's name for this in the key. */
const FILENAME_VARIABLE = '$' + '{filename}';

/** S3's ceiling for a single PUT/POST. */
export const MAX_POST_BYTES = 5 * 1024 ** 3;

/** Fields that need no policy condition. */
const EXEMPT = (name: string) => name === 'x-amz-signature' || name === 'file' || name === 'policy' || name.startsWith('x-ignore-');

/** Fields that authenticate the request rather than describe the object. */
const AUTH_FIELDS = new Set([
  'policy',
  'x-amz-signature',
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-security-token',
  'awsaccesskeyid',
  'signature',
  'bucket',
  'key',
  'file',
]);

const denied = (message: string) => new S3Error(403, 'AccessDenied', message);
const invalidPolicy = (message: string) => new S3Error(400, 'InvalidPolicyDocument', `Invalid Policy: ${message}`);
const missingField = (name: string) =>
  new S3Error(
    400,
    'InvalidArgument',
    `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
    { ArgumentName: name, ArgumentValue: '' },
  );

type Condition =
  | { op: 'eq' | 'starts-with'; field: string; value: string; text: string }
  | { op: 'content-length-range'; min: number; max: number };

function parseConditions(raw: unknown): Condition[] {
  if (!Array.isArray(raw)) throw invalidPolicy('Policy missing conditions.');
  const conditions: Condition[] = [];
  for (const entry of raw) {
    const text = JSON.stringify(entry);
    if (Array.isArray(entry)) {
      const [op, a, b] = entry as unknown[];
      const opName = typeof op === 'string' ? op.toLowerCase() : op;
      if (opName === 'content-length-range') {
        const min = Number(a);
        const max = Number(b);
        if (entry.length !== 3 || !Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || max < min) {
          throw invalidPolicy(`Invalid content-length-range condition: ${text}`);
        }
        conditions.push({ op: 'content-length-range', min, max });
      } else if (opName === 'eq' || opName === 'starts-with') {
        if (entry.length !== 3 || typeof a !== 'string' || !a.startsWith('$') || typeof b !== 'string') {
          throw invalidPolicy(`Invalid Condition: ${text}`);
        }
        conditions.push({ op: opName, field: a.slice(1).toLowerCase(), value: b, text: `["${opName}", "${a}", "${b}"]` });
      } else {
        throw invalidPolicy(`Invalid Condition: ${text}`);
      }
    } else if (entry && typeof entry === 'object') {
      const pairs = Object.entries(entry as Record<string, unknown>);
      if (pairs.length !== 1 || typeof pairs[0]?.[1] !== 'string') throw invalidPolicy(`Invalid Condition: ${text}`);
      const [name, value] = pairs[0] as [string, string];
      conditions.push({ op: 'eq', field: name.toLowerCase(), value, text: `["eq", "$${name}", "${value}"]` });
    } else {
      throw invalidPolicy(`Invalid Condition: ${text}`);
    }
  }
  return conditions;
}

function decodePolicy(policyB64: string): { expiration: Date; conditions: Condition[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(policyB64, 'base64').toString('utf8'));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalidPolicy('Invalid JSON.');
  const { expiration, conditions } = doc as { expiration?: unknown; conditions?: unknown };
  if (expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  const expires = typeof expiration === 'string' ? new Date(expiration) : new Date(Number.NaN);
  if (Number.isNaN(expires.getTime())) throw invalidPolicy('Invalid Policy Expiration.');
  return { expiration: expires, conditions: parseConditions(conditions) };
}

/** Checks everything about a POST upload that does not depend on the file's size. Throws S3Error. */
export function checkPostForm(input: PostFormInput): CheckedPostForm {
  const now = input.now ?? new Date();
  const byName = new Map<string, { name: string; value: string }>();
  for (const [name, value] of input.fields) {
    const lower = name.toLowerCase();
    if (byName.has(lower)) {
      throw new S3Error(400, 'InvalidArgument', `Bucket POST can only contain one field named '${name}'.`, {
        ArgumentName: name,
        ArgumentValue: value,
      });
    }
    byName.set(lower, { name, value });
  }
  const field = (name: string) => byName.get(name)?.value;

  const policy = field('policy');
  const signature = field('x-amz-signature');
  if (policy === undefined && signature === undefined && field('signature') === undefined) {
    // An anonymous upload: only a public-write bucket takes it, and ours is private.
    throw denied('Access Denied');
  }
  const rawKey = field('key');
  if (rawKey === undefined) throw missingField('key');
  if (field('awsaccesskeyid') !== undefined && field('x-amz-algorithm') === undefined) {
    throw new S3Error(400, 'InvalidArgument', 'Signature Version 2 is not supported here; use AWS4-HMAC-SHA256.');
  }
  if (policy === undefined) throw missingField('policy');
  const algorithm = field('x-amz-algorithm');
  if (algorithm === undefined) throw missingField('x-amz-algorithm');
  if (algorithm !== 'AWS4-HMAC-SHA256') {
    throw new S3Error(400, 'InvalidArgument', 'Unsupported algorithm; only AWS4-HMAC-SHA256 is accepted.', {
      ArgumentName: 'x-amz-algorithm',
      ArgumentValue: algorithm,
    });
  }
  const credentialField = field('x-amz-credential');
  if (credentialField === undefined) throw missingField('x-amz-credential');
  if (field('x-amz-date') === undefined) throw missingField('x-amz-date');
  if (!parseAmzDate(field('x-amz-date') as string)) {
    throw new S3Error(400, 'InvalidArgument', 'Invalid x-amz-date.', { ArgumentName: 'x-amz-date' });
  }
  if (signature === undefined) throw missingField('x-amz-signature');
  const credential = parseCredential(credentialField);
  if (!credential) {
    throw new S3Error(400, 'InvalidArgument', `Invalid credential: ${credentialField}`, {
      ArgumentName: 'x-amz-credential',
      ArgumentValue: credentialField,
    });
  }
  const signer = input.keys(credential.accessKeyId);
  if (!signer) {
    throw new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {
      AWSAccessKeyId: credential.accessKeyId,
    });
  }
  if (credential.service !== 's3') {
    throw new S3Error(400, 'InvalidArgument', `Invalid credential scope: the service '${credential.service}' is not s3.`);
  }
  if (credential.region !== input.region) {
    throw new S3Error(
      400,
      'AuthorizationHeaderMalformed',
      `The authorization header is malformed; the region '${credential.region}' is wrong; expecting '${input.region}'`,
      { Region: input.region },
    );
  }
  const expected = policySignature(signer.secretAccessKey, credential, policy);
  if (!sameSignature(expected, signature)) {
    throw new S3Error(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { AWSAccessKeyId: credential.accessKeyId, StringToSign: policy, SignatureProvided: signature },
    );
  }

  const { expiration, conditions } = decodePolicy(policy);
  if (expiration.getTime() <= now.getTime()) throw denied('Invalid according to Policy: Policy expired.');

  const key = input.filename !== undefined ? rawKey.replaceAll(FILENAME_VARIABLE, input.filename) : rawKey;
  if (key.length === 0) {
    throw new S3Error(400, 'InvalidArgument', 'User key must have a length greater than 0.', {
      ArgumentName: 'key',
      ArgumentValue: '',
    });
  }
  const fieldValue = (name: string) => (name === 'bucket' ? input.bucket : name === 'key' ? key : (field(name) ?? ''));

  const covered = new Set<string>();
  let lengthRange: CheckedPostForm['lengthRange'];
  for (const condition of conditions) {
    if (condition.op === 'content-length-range') {
      lengthRange = { min: condition.min, max: condition.max };
      continue;
    }
    covered.add(condition.field);
    const actual = fieldValue(condition.field);
    const ok =
      condition.op === 'eq'
        ? actual === condition.value
        : condition.field === 'content-type'
          ? actual.split(',').every((part) => part.trim().startsWith(condition.value))
          : actual.startsWith(condition.value);
    if (!ok) throw denied(`Invalid according to Policy: Policy Condition failed: ${condition.text}`);
  }
  for (const [lower, { name }] of byName) {
    if (!EXEMPT(lower) && !covered.has(lower)) throw denied(`Invalid according to Policy: Extra input fields: ${name}`);
  }

  const objectFields = input.fields.filter(([name]) => {
    const lower = name.toLowerCase();
    return !AUTH_FIELDS.has(lower) && !lower.startsWith('x-ignore-');
  });
  return { key, lengthRange, objectFields, accessKeyId: credential.accessKeyId };
}

/** The size check S3 makes once the file has arrived. Throws S3Error. */
export function checkContentLength(size: number, range: CheckedPostForm['lengthRange']): void {
  const max = Math.min(range?.max ?? MAX_POST_BYTES, MAX_POST_BYTES);
  const min = range?.min ?? 0;
  if (size > max) {
    throw new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: size,
      MaxSizeAllowed: max,
    });
  }
  if (size < min) {
    throw new S3Error(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', {
      ProposedSize: size,
      MinSizeAllowed: min,
    });
  }
}
