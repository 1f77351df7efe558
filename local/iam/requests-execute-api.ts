import { type AuthorizationCheck, type AwsHttpRequest, type DescribeContext, MalformedRequestError } from './request-model';

/**
 * The API Gateway management API (PostToConnection, GetConnection, DeleteConnection) on `/<apiId>/<stage>/@connections/<id>`
 * (locally the API id leads the path; in AWS it is the host): one `execute-api:ManageConnections` check on
 * `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/@connections/<id>`.
 */
export function describeManageConnections(request: AwsHttpRequest, context: DescribeContext): AuthorizationCheck[] {
  const match = /^\/([^/]+)\/([^/]+)\/@connections\/([^/]+)$/.exec(request.path);
  if (!match) throw new MalformedRequestError(`not a management API path: ${request.path}`);
  const [, apiId, stage, connectionId] = match;
  const method = request.method.toUpperCase();
  return [
    {
      action: 'execute-api:ManageConnections',
      resource: `arn:aws:execute-api:${context.region}:${context.account}:${apiId}/${stage}/${method}/@connections/${decodeURIComponent(connectionId as string)}`,
    },
  ];
}
