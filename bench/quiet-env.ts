// Imported first by the benches: silences the AWS SDK's Node-version notice before any SDK module loads.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
