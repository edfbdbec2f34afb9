"""The ids Kubernetes objects and web identities have in the graph.

A cluster is its EKS ARN (``arn:aws:eks:<region>:<account>:cluster/<name>``). An object inside it is named
the way the API server paths name it, under the cluster: ``k8s://<account>/<region>/<cluster>/namespaces/
<ns>/<plural>/<name>`` (a namespace: ``…/namespaces/<ns>``). A web identity is its OIDC issuer (without
``https://``) and subject: ``urn:aws:web-identity:<issuer>:<sub>`` — what CloudTrail's ``WebIdentityUser``
names (``identityProvider`` ``arn:aws:iam::<account>:oidc-provider/<issuer>``, ``userName`` the subject),
so evidence and the cluster's service accounts meet on one node whichever is loaded first.

>>> c = Cluster("arn:aws:eks:us-east-1:111122223333:cluster/fraud", "https://oidc.eks.us-east-1.amazonaws.com/id/AB12")
>>> c.object_id("fraud", "serviceaccounts", "scorer")
'k8s://111122223333/us-east-1/fraud/namespaces/fraud/serviceaccounts/scorer'
>>> c.web_identity("fraud", "scorer")
'urn:aws:web-identity:oidc.eks.us-east-1.amazonaws.com/id/AB12:system:serviceaccount:fraud:scorer'
"""

from __future__ import annotations

from analyzer.graph.ids import Cluster

__all__ = ["Cluster"]
