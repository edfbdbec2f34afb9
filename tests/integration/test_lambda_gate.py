"""The loop closed on AWS: the Lambda handler (in this process, its boto3 reaching a moto server over
HTTP) sends a Security Hub event to `blastwall serve`, and starts the remediation (a Step Functions state
machine in moto) only once the change advisory board has approved; the CloudFormation template that
deploys it passes cfn-lint and deploys into moto."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from analyzer.governance.ledger import Ledger
from analyzer.serve import lambda_gate
from tests.conftest import ROOT
from tests.integration.test_serve import STORY, Server, _event, _token

pytestmark = pytest.mark.integration
TEMPLATE = ROOT / "deploy" / "aws" / "blastwall-gate.yaml"


def state_machine() -> str:
    """A Step Functions state machine in moto, standing for the remediation (one state that succeeds)."""
    role = boto3.client("iam", region_name="us-east-1").create_role(
        RoleName="sfn-remediation",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "states.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    return str(
        boto3.client("stepfunctions", region_name="us-east-1").create_state_machine(
            name="restrict-trust",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn=role,
        )["stateMachineArn"]
    )


@pytest.fixture
def loop(moto_server: str, demo_org: dict, monkeypatch: pytest.MonkeyPatch) -> Any:
    token = _token(demo_org, "remediation-lambda", "propose", "read", "gate")
    secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="blastwall/gate-token", SecretString=token
    )["ARN"]
    machine = state_machine()
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    server = Server(demo_org)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("BLASTWALL_URL", server.url)
    monkeypatch.setenv("BLASTWALL_TOKEN_SECRET", secret)
    monkeypatch.setenv("REMEDIATION", f"stepfunctions:{machine}")
    try:
        yield demo_org, sfn, machine
    finally:
        server.stop()


def test_the_remediation_starts_only_after_the_board_approves(loop: Any) -> None:
    org, sfn, machine = loop
    event = _event("")  # the story's own finding, as EventBridge delivers it
    held = lambda_gate.handler(event)
    (r,) = held["results"]
    assert r["proposal_id"] == STORY and "change-advisory-board" in r["held"]
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
    org["bw"]("approve", STORY, "--as", "priya", "--comment", "ETL moved first (CHG0042)")
    ran = lambda_gate.handler(event)
    (r,) = ran["results"]
    assert r["started"].startswith("Step Functions execution arn:aws:states:")
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    given = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert given["proposal_id"] == STORY and given["change"]["kind"] == "iam.update_trust_policy"
    records = Ledger(org["ledger"]).records()
    # the run the lambda reports (the demo's ledger also holds the sample's CSPM run, from its own output)
    (done,) = [x["body"] for x in records if x["type"] == "execution" and x["body"]["proposal_id"] == STORY]
    assert done["reported_by"] == "remediation-lambda" and execution["executionArn"] in done["detail"]
    asked = [x["body"] for x in records if x["type"] == "gate"]
    assert [g["allowed"] for g in asked] == [False, True]


def test_a_new_finding_the_gate_holds_starts_nothing(loop: Any) -> None:
    org, sfn, machine = loop
    out = lambda_gate.handler(_event("-another"))
    (r,) = out["results"]
    assert r["proposal_id"] != STORY and "held" in r
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
    ran = [x["body"] for x in Ledger(org["ledger"]).records() if x["type"] == "execution"]
    assert [r["reported_by"] for r in ran] == ["aws-ssm-automation:ACME-CSPM-RestrictCrossAccountTrust"]


def test_ssm_automation_parameters_are_rendered_stubbed_since_moto_lacks_start_automation_execution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto implements no SSM Automation executions: botocore's Stubber checks the call against the
    service model instead (operation, parameter names and types)."""
    from botocore.stub import Stubber

    client = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_response(
        "start_automation_execution",
        {"AutomationExecutionId": "4105a4fc-f944-11e6-9d32-0a1b2c3d495h"},
        {
            "DocumentName": "AWS-DisablePublicAccessForSecurityGroup",
            "Parameters": {
                "GroupId": ["sg-0123456789abcdef0"],
                "AutomationAssumeRole": ["arn:aws:iam::482510973311:role/remediation"],
            },
        },
    )
    monkeypatch.setattr(boto3, "client", lambda name, **kw: client)
    cfg = lambda_gate.Config(
        "http://unused",
        "t",
        "ssm-automation:AWS-DisablePublicAccessForSecurityGroup",
        {"GroupId": ["{resource_id}"], "AutomationAssumeRole": ["arn:aws:iam::{account}:role/remediation"]},
    )
    with stub:
        started = lambda_gate.start_remediation(
            cfg,
            {
                "proposal_id": "bw-1",
                "change": {
                    "target": "sg-0123456789abcdef0",
                    "account": "482510973311",
                    "region": "us-east-1",
                },
            },
        )
    assert started.endswith("execution 4105a4fc-f944-11e6-9d32-0a1b2c3d495h")
    stub.assert_no_pending_responses()


def test_the_template_lints_and_deploys_into_moto(moto_server: str, tmp_path: Path) -> None:
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    package = tmp_path / "blastwall-gate.zip"
    subprocess.run([sys.executable, "-m", "analyzer.serve.lambda_gate", "--zip", str(package)], check=True)
    import zipfile

    assert sorted(zipfile.ZipFile(package).namelist()) == [
        "analyzer/__init__.py",
        "analyzer/serve/__init__.py",
        "analyzer/serve/lambda_gate.py",
    ]
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="acme-deploy")
    s3.upload_file(str(package), "acme-deploy", "blastwall-gate.zip")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="gate", Description="gate", VpcId=vpc)["GroupId"]
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    params = {
        "CodeBucket": "acme-deploy",
        "BlastwallUrl": "https://blastwall.internal:8080",
        "TokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:blastwall/gate-token-AbCdEf",
        "Remediation": "ssm-automation:AWS-DisablePublicAccessForSecurityGroup",
        "RemediationResourceArn": "arn:aws:ssm:us-east-1::automation-definition/AWS-DisablePublicAccessForSecurityGroup:$DEFAULT",
        "SubnetIds": subnet,
        "SecurityGroupIds": sg,
    }
    cfn.create_stack(
        StackName="blastwall-gate",
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    (stack,) = cfn.describe_stacks(StackName="blastwall-gate")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    fn = boto3.client("lambda", region_name="us-east-1").get_function(FunctionName=out["FunctionArn"])
    assert fn["Configuration"]["Handler"] == "analyzer.serve.lambda_gate.handler"
    assert (
        fn["Configuration"]["Environment"]["Variables"]["BLASTWALL_URL"] == "https://blastwall.internal:8080"
    )
    events = boto3.client("events", region_name="us-east-1")
    (rule,) = events.list_rules()["Rules"]
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail-type"] == ["Security Hub Findings - Imported"]
    assert pattern["detail"]["findings"]["Compliance"]["Status"] == ["FAILED"]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == out["FunctionArn"]
