#!/usr/bin/env python3
"""gen_extra.py: the strict schemas of the kinds deploy/k8s uses that the shared set
(shared/ref/k8s-schemas, which test_k8s.sh validates against) does not have: today the
ValidatingAdmissionPolicy and its binding (admissionregistration.k8s.io/v1, GA in 1.30)
that keep kaiden-helperd inside paas-ws-* namespaces.

Made exactly as the shared ones (its gen_schemas.py, imported, with only the kinds
list changed) from the same upstream files: kubernetes/kubernetes
api/openapi-spec/v3/apis__admissionregistration.k8s.io__v1_openapi.json of release-1.30
and release-1.35, as kubernetes-sigs/kubectl-validate keeps them
(pkg/openapiclient/builtins/<minor>/apis/admissionregistration.k8s.io/v1.json, commit
a97ccfac, the commit the shared set names).

    python3 gen_extra.py SHARED_K8S_SCHEMAS SPEC_DIR MINOR
        SPEC_DIR/apis/admissionregistration.k8s.io/v1.json in; writes <this dir>/MINOR/

test_k8s.sh lays these beside a copy of the shared set (index.json merged) before it
validates deploy/k8s.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GROUP_FILE = "apis/admissionregistration.k8s.io/v1.json"
KINDS = [
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", GROUP_FILE,
     "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", GROUP_FILE,
     "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBinding"),
]


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: gen_extra.py SHARED_K8S_SCHEMAS SPEC_DIR MINOR\n")
        return 2
    shared, spec_dir, minor = sys.argv[1:]
    sys.path.insert(0, shared)
    import gen_schemas
    gen_schemas.KINDS = KINDS
    sys.argv = ["gen_schemas.py", spec_dir, minor, HERE]
    gen_schemas.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
