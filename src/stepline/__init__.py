"""Stepline: durable YaWL workflows on AWS Lambda, SQS and DynamoDB."""

__version__ = "0.1.0"
