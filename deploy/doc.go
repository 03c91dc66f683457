// Package deploy holds fnmgr's deployment files (they are not Go code):
//
//	docker/Dockerfile             the container image, built with `make build`'s flags
//	helm/fnmgr/                   a Helm chart installing fnmgr beside openwhisk-deploy-kube
//	compose/docker-compose.yml    an overlay for OpenWhisk's docker-compose deployment
//	systemd/fnmgr.service         a hardened unit for ansible-based deployments
//	local/                        the local stack (`make run`) and its parts
//
// Its tests render the Helm chart without helm (Go's text/template and the
// few template functions the chart uses) and check the output is
// Kubernetes YAML naming the openwhisk-deploy-kube services, and that the
// Dockerfile builds with the Makefile's flags.
package deploy
