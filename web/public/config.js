// Runtime config for the local stack. The CDK Web construct deploys its own, e.g.
// window.GHOSTLESS_CONFIG = { apiBase: '/api', auth: { type: 'cognito', region: 'us-east-1', userPoolId: 'us-east-1_…', clientId: '…' } };
window.GHOSTLESS_CONFIG = { apiBase: '/api', auth: 'local' };
