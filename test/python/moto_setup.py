"""Prepares a moto server started with INITIAL_NO_AUTH_ACTION_COUNT=3 for thaw's S3 tests: an IAM user allowed s3:*
(so that credentials are checked: wrong keys are refused as on AWS), its access key, and the given buckets.
Usage: moto_setup.py ENDPOINT BUCKET... ; prints the key id and secret as JSON."""
import json
import sys

import boto3

endpoint, buckets = sys.argv[1], sys.argv[2:]
iam = boto3.client('iam', endpoint_url=endpoint, region_name='us-east-1', aws_access_key_id='setup', aws_secret_access_key='setup')
iam.create_user(UserName='thaw')
iam.put_user_policy(UserName='thaw', PolicyName='s3', PolicyDocument=json.dumps(
    {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': 's3:*', 'Resource': '*'}]}))
key = iam.create_access_key(UserName='thaw')['AccessKey']
s3 = boto3.client('s3', endpoint_url=endpoint, region_name='us-east-1',
                  aws_access_key_id=key['AccessKeyId'], aws_secret_access_key=key['SecretAccessKey'])
for bucket in buckets:
    s3.create_bucket(Bucket=bucket)
print(json.dumps({'accessKeyId': key['AccessKeyId'], 'secretAccessKey': key['SecretAccessKey']}))
