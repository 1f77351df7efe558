import { LOCAL_ENVIRONMENT } from './environment';
import type { AuthorizationCheck, AwsHttpRequest, DescribeContext, DescribeOptions } from './request-model';
import { describeDynamoDbRequest } from './requests-dynamodb';
import { describeManageConnections } from './requests-execute-api';
import { describeJsonServiceRequest } from './requests-json-services';
import { describeS3Request } from './requests-s3';

export * from './request-model';

/** The IAM checks AWS performs for this request, all of which must be allowed. */
export function describeRequest(request: AwsHttpRequest, options: DescribeOptions = {}): AuthorizationCheck[] {
  const context: DescribeContext = {
    account: options.account ?? LOCAL_ENVIRONMENT.account,
    region: options.region ?? LOCAL_ENVIRONMENT.region,
    taskTokenOwner: options.taskTokenOwner,
  };
  switch (request.service) {
    case 'dynamodb':
      return describeDynamoDbRequest(request, context);
    case 's3':
      return describeS3Request(request);
    case 'execute-api':
      return describeManageConnections(request, context);
    default:
      return describeJsonServiceRequest(request, context);
  }
}
