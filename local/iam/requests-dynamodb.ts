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

/** Operations whose one check is `dynamodb:<Operation>` on the table named by `TableName`. */
const SINGLE_TABLE = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'DescribeTable',
  'CreateTable',
  'DeleteTable',
  'UpdateTable',
  'UpdateTimeToLive',
  'DescribeTimeToLive',
]);

/** Which action each TransactWriteItems member needs (Service Authorization Reference: TransactWriteItems has no action of its own). */
const TRANSACT_WRITE_ACTION: Record<string, string> = {
  ConditionCheck: 'dynamodb:ConditionCheckItem',
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
};

/** DynamoDB JSON 1.0 (`X-Amz-Target: DynamoDB_20120810.<Op>`) → checks on `table/<name>` (or `table/<name>/index/<index>`). */
export function describeDynamoDbRequest(request: AwsHttpRequest, context: DescribeContext): AuthorizationCheck[] {
  const operation = jsonTarget(request, 'DynamoDB_20120810');
  const body = jsonBody(request);
  const table = (name: string) => `arn:aws:dynamodb:${context.region}:${context.account}:table/${name}`;
  const check = (action: string, name: string): AuthorizationCheck => ({ action: `dynamodb:${action}`, resource: table(name) });

  if (SINGLE_TABLE.has(operation)) return [check(operation, stringMember(body, 'TableName', operation))];
  switch (operation) {
    case 'Query':
    case 'Scan': {
      const name = stringMember(body, 'TableName', operation);
      const index = body.IndexName;
      return [{ action: `dynamodb:${operation}`, resource: typeof index === 'string' ? `${table(name)}/index/${index}` : table(name) }];
    }
    case 'BatchGetItem':
    case 'BatchWriteItem': {
      // One check per table; puts and deletes in a batch both need BatchWriteItem, not PutItem/DeleteItem.
      const items = body.RequestItems;
      if (!items || typeof items !== 'object') throw new MalformedRequestError(`${operation} without RequestItems`);
      return Object.keys(items).map((name) => check(operation, name));
    }
    case 'TransactWriteItems':
      return transactItems(body, operation).map((item) => {
        const [kind, member] = Object.entries(item).find(([key]) => key in TRANSACT_WRITE_ACTION) ?? [];
        if (!kind) throw new MalformedRequestError(`TransactWriteItems member without ConditionCheck/Put/Update/Delete`);
        return { action: TRANSACT_WRITE_ACTION[kind] as string, resource: table(stringMember(asObject(member), 'TableName', operation)) };
      });
    case 'TransactGetItems':
      return transactItems(body, operation).map((item) => check('GetItem', stringMember(asObject(item.Get), 'TableName', operation)));
    case 'ListTables':
      return [{ action: 'dynamodb:ListTables', resource: '*' }];
    default:
      throw new UnsupportedOperationError('dynamodb', operation);
  }
}

function transactItems(body: Record<string, unknown>, operation: string): Record<string, unknown>[] {
  if (!Array.isArray(body.TransactItems)) throw new MalformedRequestError(`${operation} without TransactItems`);
  return body.TransactItems.map(asObject);
}

const asObject = (value: unknown): Record<string, unknown> =>
  value && typeof value === 'object' ? (value as Record<string, unknown>) : ({} as Record<string, unknown>);
