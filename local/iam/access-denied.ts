import { randomBytes, randomUUID } from 'node:crypto';
import type { Decision } from './evaluate';
import type { AuthorizationCheck, GatewayService } from './request-model';

/** An HTTP answer the gateway writes instead of forwarding the request. */
export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The message AWS writes for a denied same-account call. S3 quotes the resource; a wildcard-only action names none.
 * e.g. "User: arn:aws:sts::…:assumed-role/R/f is not authorized to perform: dynamodb:PutItem on resource: arn:… because
 * no identity-based policy allows the dynamodb:PutItem action".
 */
export function accessDeniedMessage(service: GatewayService, principalArn: string, check: AuthorizationCheck, decision: Decision): string {
  const resource = check.resource === '*' ? '' : ` on resource: ${service === 's3' ? `"${check.resource}"` : check.resource}`;
  const reason =
    decision === 'ExplicitlyDenied'
      ? 'with an explicit deny in an identity-based policy'
      : `because no identity-based policy allows the ${check.action} action`;
  return `User: ${principalArn} is not authorized to perform: ${check.action}${resource} ${reason}`;
}

/** The AccessDenied answer of each protocol, as the real service sends it (the SDKs name the error after `__type`/`Code`). */
export function accessDeniedResponse(
  service: GatewayService,
  principalArn: string,
  check: AuthorizationCheck,
  decision: Decision,
): ErrorResponse {
  const message = accessDeniedMessage(service, principalArn, check, decision);
  switch (service) {
    case 's3':
      return s3Error(403, 'AccessDenied', message);
    case 'sfn':
      // Step Functions runs on SWF's front end: its faults carry SWF's namespace and a lower-case `message`.
      return jsonError(service, 400, 'com.amazonaws.swf.base.model#AccessDeniedException', { message });
    case 'sqs':
      return jsonError(service, 400, 'com.amazon.coral.service#AccessDeniedException', { message });
    case 'execute-api':
      // API Gateway's management API (REST-JSON): 403 ForbiddenException.
      return jsonError(service, 403, 'ForbiddenException', { message });
    default:
      // DynamoDB and Secrets Manager: Coral's AccessDeniedException with a capitalised `Message`.
      return jsonError(service, 400, 'com.amazon.coral.service#AccessDeniedException', { Message: message });
  }
}

/** The answer for an access key id the gateway does not know, or for an unsigned request (undefined). */
export function unknownAccessKeyResponse(service: GatewayService, accessKeyId: string | undefined): ErrorResponse {
  if (service === 's3') {
    // An unsigned S3 request is anonymous: with no bucket policy, anonymous callers are simply denied.
    if (!accessKeyId) return s3Error(403, 'AccessDenied', 'Access Denied');
    return s3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {
      AWSAccessKeyId: accessKeyId ?? '',
    });
  }
  if (!accessKeyId) return jsonError(service, 400, 'MissingAuthenticationTokenException', { message: 'Missing Authentication Token' });
  return jsonError(service, 400, 'com.amazon.coral.service#UnrecognizedClientException', {
    message: 'The security token included in the request is invalid.',
  });
}

/** The answer for a missing or wrong session token on temporary credentials. */
export function invalidTokenResponse(service: GatewayService): ErrorResponse {
  if (service === 's3') return s3Error(400, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
  return jsonError(service, 400, 'com.amazon.coral.service#UnrecognizedClientException', {
    message: 'The security token included in the request is invalid.',
  });
}

/** The answer for a request whose SigV4 signature does not match the identity's secret key (or has expired). */
export function badSignatureResponse(service: GatewayService, detail?: string): ErrorResponse {
  const message =
    detail ?? 'The request signature we calculated does not match the signature you provided. Check your key and signing method.';
  if (service === 's3') return s3Error(403, 'SignatureDoesNotMatch', message);
  return jsonError(service, 400, 'com.amazon.coral.service#InvalidSignatureException', { message });
}

/** The answer for an operation the gateway cannot authorize (see UnsupportedOperationError): loud, never forwarded. */
export function unsupportedOperationResponse(service: GatewayService, message: string): ErrorResponse {
  if (service === 's3') return s3Error(501, 'NotImplemented', message);
  return jsonError(service, 400, 'UnsupportedOperationException', { message });
}

/** The answer for a request the gateway cannot parse. */
export function malformedRequestResponse(service: GatewayService, message: string): ErrorResponse {
  if (service === 's3') return s3Error(400, 'InvalidRequest', message);
  return jsonError(service, 400, 'com.amazon.coral.service#SerializationException', { Message: message });
}

function jsonError(service: GatewayService, status: number, type: string, fields: Record<string, string>): ErrorResponse {
  const contentType = service === 'secretsmanager' ? 'application/x-amz-json-1.1' : 'application/x-amz-json-1.0';
  return {
    status,
    headers: { 'content-type': contentType, 'x-amzn-requestid': randomUUID() },
    body: JSON.stringify({ __type: type, ...fields }),
  };
}

function s3Error(status: number, code: string, message: string, extra: Record<string, string> = {}): ErrorResponse {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const hostId = randomBytes(48).toString('base64');
  const fields = Object.entries(extra)
    .map(([name, value]) => `<${name}>${xml(value)}</${name}>`)
    .join('');
  return {
    status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId, 'x-amz-id-2': hostId },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(message)}</Message>${fields}<RequestId>${requestId}</RequestId><HostId>${hostId}</HostId></Error>`,
  };
}

const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
