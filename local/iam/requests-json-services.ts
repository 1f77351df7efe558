import {
  type AuthorizationCheck,
  type AwsHttpRequest,
  type DescribeContext,
  jsonBody,
  jsonTarget,
  MalformedRequestError,
  stringMember,
  UnsupportedOperationError,
} from './request-model';

/** Step Functions operations → the body member that holds the ARN AWS authorizes against. */
const SFN_RESOURCE_MEMBER: Record<string, string> = {
  StartExecution: 'stateMachineArn',
  StartSyncExecution: 'stateMachineArn',
  ListExecutions: 'stateMachineArn',
  DescribeStateMachine: 'stateMachineArn',
  DescribeExecution: 'executionArn',
  StopExecution: 'executionArn',
  GetExecutionHistory: 'executionArn',
};

const TASK_RESPONSES = new Set(['SendTaskSuccess', 'SendTaskFailure', 'SendTaskHeartbeat']);

/** Step Functions (JSON 1.0), Secrets Manager (JSON 1.1) and SQS (JSON 1.0) requests. */
export function describeJsonServiceRequest(request: AwsHttpRequest, context: DescribeContext): AuthorizationCheck[] {
  switch (request.service) {
    case 'sfn':
      return describeStepFunctions(request, context);
    case 'secretsmanager':
      return describeSecretsManager(request, context);
    case 'sqs':
      return describeSqs(request, context);
    default:
      throw new MalformedRequestError(`not a JSON-protocol service: ${request.service}`);
  }
}

function describeStepFunctions(request: AwsHttpRequest, context: DescribeContext): AuthorizationCheck[] {
  const operation = jsonTarget(request, 'AWSStepFunctions');
  const body = jsonBody(request);
  const member = SFN_RESOURCE_MEMBER[operation];
  if (member) return [{ action: `states:${operation}`, resource: stringMember(body, member, operation) }];
  if (TASK_RESPONSES.has(operation)) {
    // The Service Authorization Reference lists no resource type for SendTask*, yet AWS authorizes them against the
    // state machine that issued the token (its denials name `stateMachine:…`, and CDK's grantTaskResponse scopes
    // to it). Without an owner the only honest resource is "*".
    const owner = context.taskTokenOwner?.(stringMember(body, 'taskToken', operation));
    return [{ action: `states:${operation}`, resource: owner ?? '*' }];
  }
  throw new UnsupportedOperationError('sfn', operation);
}

function describeSecretsManager(request: AwsHttpRequest, context: DescribeContext): AuthorizationCheck[] {
  const operation = jsonTarget(request, 'secretsmanager');
  if (operation !== 'GetSecretValue' && operation !== 'DescribeSecret') throw new UnsupportedOperationError('secretsmanager', operation);
  const id = stringMember(jsonBody(request), 'SecretId', operation);
  // A name stands for the secret's ARN; real ARNs end in a random 6-character suffix that a local name cannot know.
  const resource = id.startsWith('arn:') ? id : `arn:aws:secretsmanager:${context.region}:${context.account}:secret:${id}`;
  return [{ action: `secretsmanager:${operation}`, resource }];
}

function describeSqs(request: AwsHttpRequest, context: DescribeContext): AuthorizationCheck[] {
  const operation = jsonTarget(request, 'AmazonSQS');
  if (operation !== 'SendMessage' && operation !== 'SendMessageBatch') throw new UnsupportedOperationError('sqs', operation);
  const url = stringMember(jsonBody(request), 'QueueUrl', operation);
  // Queue URLs end in /<account>/<name>, on AWS and on local emulators alike.
  const match = /\/(\d{12})\/([^/?]+)\/?(?:\?.*)?$/.exec(url);
  if (!match) throw new MalformedRequestError(`QueueUrl does not end in /<account>/<queue>: ${url}`);
  const region = /^https?:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com/.exec(url)?.[1] ?? context.region;
  // SendMessageBatch is authorized as sqs:SendMessage.
  return [{ action: 'sqs:SendMessage', resource: `arn:aws:sqs:${region}:${match[1]}:${match[2]}` }];
}
