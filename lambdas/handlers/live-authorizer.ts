import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { userTokenVerifier } from '../adapters/user-token';
import { readAuthorizerConfig } from '../config';
import { eventHandler } from './middleware';

const verify = userTokenVerifier(readAuthorizerConfig());

/** The push channel's $connect: browsers cannot set headers on a WebSocket, so the Cognito token comes as `?token=`. */
export const handler = eventHandler(async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  // API Gateway answers 401 to this exact error; any other answer would be a 500.
  const userId = await verify(event.queryStringParameters?.token).catch(() => {
    throw new Error('Unauthorized');
  });
  return {
    principalId: userId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }] },
    context: { userId },
  };
});
