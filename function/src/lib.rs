//! The custom handler (HTTP server the Functions host invokes) and the deployment package builder.
