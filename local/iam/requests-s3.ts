import { type AuthorizationCheck, type AwsHttpRequest, MalformedRequestError, UnsupportedOperationError } from './request-model';

/** Query parameters that name a sub-resource: a request with one is a different operation (and a different permission). */
const SUBRESOURCES = [
  'acl',
  'attributes',
  'cors',
  'delete',
  'encryption',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'notification',
  'object-lock',
  'ownershipControls',
  'policy',
  'publicAccessBlock',
  'replication',
  'restore',
  'retention',
  'select',
  'tagging',
  'torrent',
  'uploads',
  'versioning',
  'versions',
  'website',
];

/** S3 REST, path style (`/<bucket>/<key>`) → checks on `arn:aws:s3:::<bucket>` or `arn:aws:s3:::<bucket>/<key>` (key decoded). */
export function describeS3Request(request: AwsHttpRequest): AuthorizationCheck[] {
  const method = request.method.toUpperCase();
  const params = new URLSearchParams(request.query);
  const [bucket, key] = splitPath(request.path);
  const subresource = SUBRESOURCES.find((name) => params.has(name));
  const operation = `${method} ${key !== undefined ? 'object' : bucket ? 'bucket' : 'service'}${subresource ? `?${subresource}` : ''}`;
  const unsupported = () => new UnsupportedOperationError('s3', operation);

  if (!bucket) {
    if (method === 'GET' && !subresource) return [{ action: 's3:ListAllMyBuckets', resource: '*' }];
    throw unsupported();
  }
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const on = (action: string, resource = bucketArn): AuthorizationCheck[] => [{ action: `s3:${action}`, resource }];

  if (key === undefined) {
    if (subresource === undefined) {
      // ListObjects(V2) and HeadBucket are both authorized as s3:ListBucket.
      if (method === 'GET' || method === 'HEAD') return on('ListBucket');
      if (method === 'PUT') return on('CreateBucket');
      if (method === 'DELETE') return on('DeleteBucket');
    }
    if (subresource === 'uploads' && method === 'GET') return on('ListBucketMultipartUploads');
    if (subresource === 'location' && method === 'GET') return on('GetBucketLocation');
    throw unsupported();
  }

  const objectArn = `${bucketArn}/${key}`;
  const uploadId = params.has('uploadId');
  const versioned = params.has('versionId');
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (subresource === undefined && uploadId && method === 'GET') return on('ListMultipartUploadParts', objectArn);
      if (subresource === undefined && !uploadId) return on(versioned ? 'GetObjectVersion' : 'GetObject', objectArn);
      if (subresource === 'tagging' && method === 'GET') return on(versioned ? 'GetObjectVersionTagging' : 'GetObjectTagging', objectArn);
      throw unsupported();
    case 'PUT': {
      if (subresource === 'tagging') return on('PutObjectTagging', objectArn);
      if (subresource !== undefined) throw unsupported();
      // CopyObject / UploadPartCopy read the source and write the target; UploadPart and PutObject only write.
      const copySource = request.headers['x-amz-copy-source'];
      const checks = copySource
        ? [...on('GetObject', copySourceArn(copySource)), ...on('PutObject', objectArn)]
        : on('PutObject', objectArn);
      // Tags set with the object need their own permission (S3 user guide, "Tagging and access control policies").
      if (request.headers['x-amz-tagging'] && !uploadId) checks.push(...on('PutObjectTagging', objectArn));
      return checks;
    }
    case 'POST':
      // CreateMultipartUpload (?uploads) and CompleteMultipartUpload (?uploadId) are authorized as s3:PutObject.
      if ((subresource === 'uploads' && !uploadId) || (subresource === undefined && uploadId)) return on('PutObject', objectArn);
      throw unsupported();
    case 'DELETE':
      if (subresource === undefined && uploadId) return on('AbortMultipartUpload', objectArn);
      if (subresource === undefined) return on(versioned ? 'DeleteObjectVersion' : 'DeleteObject', objectArn);
      if (subresource === 'tagging') return on('DeleteObjectTagging', objectArn);
      throw unsupported();
    default:
      throw unsupported();
  }
}

/** `/<bucket>/<key…>` → [bucket, decoded key]; the key is undefined for bucket-level requests (`/<bucket>` or `/<bucket>/`). */
function splitPath(path: string): [string | undefined, string | undefined] {
  const rest = path.replace(/^\/+/, '');
  const slash = rest.indexOf('/');
  if (slash === -1) return [rest ? decode(rest) : undefined, undefined];
  const key = rest.slice(slash + 1);
  return [decode(rest.slice(0, slash)), key === '' ? undefined : decode(key)];
}

/** `x-amz-copy-source: [/]bucket/key[?versionId=…]`, URL-encoded. */
function copySourceArn(header: string): string {
  const [bucket, key] = splitPath(`/${header.replace(/^\/+/, '').split('?')[0]}`);
  if (!bucket || key === undefined) throw new MalformedRequestError(`x-amz-copy-source is not bucket/key: ${header}`);
  return `arn:aws:s3:::${bucket}/${key}`;
}

function decode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    throw new MalformedRequestError(`S3 path is not valid URL encoding: ${component}`);
  }
}
