/** Local IAM: role policies from the template, request → IAM checks, evaluation, AWS-shaped denials, and the gateway. */
export * from './access-denied';
export * from './environment';
export * from './evaluate';
export * from './gateway';
export * from './policies';
export * from './requests';
export * from './signature';
