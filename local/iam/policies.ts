import { awsManagedPolicy, isAwsManagedPolicyArn } from './managed-policies';

/** An IAM policy document after every intrinsic has been resolved. */
export interface PolicyDocument {
  Version?: string;
  Statement: Record<string, unknown>[] | Record<string, unknown>;
}

/** One identity policy attached to a role; `name` says where it came from (inline name, resource id or managed ARN). */
export interface IdentityPolicy {
  name: string;
  document: PolicyDocument;
}

export interface RolePolicies {
  roleLogicalId: string;
  roleArn: string;
  roleName: string;
  policies: IdentityPolicy[];
}

/** Resolves CloudFormation intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub…) to concrete values; the caller owns the rules. */
export type Resolve = (value: unknown) => unknown;

type Resource = { Type: string; Properties?: Record<string, unknown> };
type Template = { Resources?: Record<string, Resource> };

/** Thrown when a role's policies cannot be extracted exactly (better than evaluating against a partial set). */
export class PolicyExtractionError extends Error {
  override name = 'PolicyExtractionError';
}

/** The identity policies of the execution role of the `AWS::Lambda::Function` with this logical id. */
export function functionRolePolicies(template: Template, functionLogicalId: string, resolve: Resolve): RolePolicies {
  const fn = resourceOfType(template, functionLogicalId, 'AWS::Lambda::Function');
  return rolePolicies(template, roleLogicalIdOf(fn.Properties?.Role, functionLogicalId, 'Role'), resolve);
}

/** The identity policies of the role of the `AWS::StepFunctions::StateMachine` with this logical id. */
export function stateMachineRolePolicies(template: Template, stateMachineLogicalId: string, resolve: Resolve): RolePolicies {
  const machine = resourceOfType(template, stateMachineLogicalId, 'AWS::StepFunctions::StateMachine');
  return rolePolicies(template, roleLogicalIdOf(machine.Properties?.RoleArn, stateMachineLogicalId, 'RoleArn'), resolve);
}

/**
 * Everything that grants to the `AWS::IAM::Role` `roleLogicalId`: its inline `Policies`, every `AWS::IAM::Policy`,
 * `AWS::IAM::RolePolicy` and `AWS::IAM::ManagedPolicy` attached to it, and its `ManagedPolicyArns`.
 */
function rolePolicies(template: Template, roleLogicalId: string, resolve: Resolve): RolePolicies {
  const resources = template.Resources ?? {};
  const role = resourceOfType(template, roleLogicalId, 'AWS::IAM::Role');
  const roleName = String(resolve({ Ref: roleLogicalId }));
  const roleArn = String(resolve({ 'Fn::GetAtt': [roleLogicalId, 'Arn'] }));
  const props = role.Properties ?? {};
  const policies: IdentityPolicy[] = [];
  const document = (value: unknown, where: string): PolicyDocument => {
    const resolved = resolve(value) as PolicyDocument | undefined;
    if (!resolved || typeof resolved !== 'object' || !resolved.Statement) throw new PolicyExtractionError(`${where} has no PolicyDocument`);
    return resolved;
  };

  for (const [index, inline] of asArray(props.Policies).entries()) {
    const entry = inline as { PolicyName?: unknown; PolicyDocument?: unknown };
    const name = entry.PolicyName !== undefined ? String(resolve(entry.PolicyName)) : `${roleLogicalId}.Policies[${index}]`;
    policies.push({ name, document: document(entry.PolicyDocument, `${roleLogicalId} inline policy ${name}`) });
  }

  // A role attached by Ref (CDK) or by its resolved name (hand-written templates) counts the same.
  const isThisRole = (value: unknown) => (isObject(value) && value.Ref === roleLogicalId) || resolve(value) === roleName;
  for (const [id, resource] of Object.entries(resources)) {
    const p = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Policy' && asArray(p.Roles).some(isThisRole)) {
      policies.push({ name: id, document: document(p.PolicyDocument, id) });
    } else if (resource.Type === 'AWS::IAM::RolePolicy' && isThisRole(p.RoleName)) {
      policies.push({ name: id, document: document(p.PolicyDocument, id) });
    } else if (resource.Type === 'AWS::IAM::ManagedPolicy' && asArray(p.Roles).some(isThisRole)) {
      policies.push({ name: id, document: document(p.PolicyDocument, id) });
    }
  }

  for (const reference of asArray(props.ManagedPolicyArns)) {
    // A customer-managed policy defined in this template: its document is right here.
    const local = isObject(reference) && typeof reference.Ref === 'string' ? resources[reference.Ref] : undefined;
    if (local?.Type === 'AWS::IAM::ManagedPolicy') {
      const id = (reference as { Ref: string }).Ref;
      if (!policies.some((p) => p.name === id)) policies.push({ name: id, document: document(local.Properties?.PolicyDocument, id) });
      continue;
    }
    const arn = String(resolve(reference));
    const managed = awsManagedPolicy(arn);
    if (!managed) {
      throw new PolicyExtractionError(
        isAwsManagedPolicyArn(arn)
          ? `${roleLogicalId} attaches AWS-managed policy ${arn}, which local/iam/managed-policies.ts has no copy of`
          : `${roleLogicalId} attaches managed policy ${arn}, which is not defined in this template`,
      );
    }
    policies.push({ name: arn, document: managed });
  }
  return { roleLogicalId, roleArn, roleName, policies };
}

function resourceOfType(template: Template, logicalId: string, type: string): Resource {
  const resource = template.Resources?.[logicalId];
  if (!resource) throw new PolicyExtractionError(`the template has no resource ${logicalId}`);
  if (resource.Type !== type) throw new PolicyExtractionError(`${logicalId} has type ${resource.Type}, expected ${type}`);
  return resource;
}

/** `{Fn::GetAtt: [RoleId, 'Arn']}` or `{Fn::GetAtt: 'RoleId.Arn'}` → RoleId; a role from outside the template cannot be read. */
function roleLogicalIdOf(value: unknown, owner: string, property: string): string {
  const getAtt = isObject(value) ? value['Fn::GetAtt'] : undefined;
  const [id, attribute] = Array.isArray(getAtt) ? getAtt.map(String) : typeof getAtt === 'string' ? getAtt.split(/\.(.*)/s) : [];
  if (!id || attribute !== 'Arn') {
    throw new PolicyExtractionError(`${owner}.${property} is not Fn::GetAtt of a role in this template: ${JSON.stringify(value)}`);
  }
  return id;
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);
const asArray = (value: unknown): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
