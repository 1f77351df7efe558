import { describe, expect, it } from 'vitest';
import { describeRequest, MalformedRequestError } from '../../local/iam/requests';

const request = (method: string, path: string) => ({ service: 'execute-api' as const, method, path, query: '', headers: {}, body: '{}' });

describe('API Gateway management calls through the IAM gateway', () => {
  it('checks execute-api:ManageConnections on the connection, its stage and its HTTP method', () => {
    expect(
      describeRequest(request('POST', '/abc123/live/@connections/Lx9%3DcA%3D'), { account: '111122223333', region: 'eu-west-1' }),
    ).toEqual([
      {
        action: 'execute-api:ManageConnections',
        resource: 'arn:aws:execute-api:eu-west-1:111122223333:abc123/live/POST/@connections/Lx9=cA=',
      },
    ]);
    expect(describeRequest(request('delete', '/abc123/live/@connections/x'))[0]?.resource).toMatch(/\/live\/DELETE\/@connections\/x$/);
  });

  it('refuses a path that is not a connection of a stage', () => {
    expect(() => describeRequest(request('POST', '/abc123/@connections/x'))).toThrow(MalformedRequestError);
  });
});
