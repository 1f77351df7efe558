import { type CfnTemplate, Resolver } from '../../local/cloud/resolver';

/** Resolves a template's intrinsics exactly as the local stack does (stack "Ghostless", account 000000000000, us-east-1). */
export function templateResolver(template: CfnTemplate): (value: unknown) => unknown {
  const resolver = new Resolver(template, { stackName: 'Ghostless' });
  return (value) => resolver.resolve(value);
}
