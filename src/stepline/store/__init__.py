"""DynamoDB, SQS and S3 access: keys, conditional writes, queries, page tokens."""
