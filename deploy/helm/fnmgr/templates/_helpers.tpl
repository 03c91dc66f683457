{{/* The chart's full name: <release>-fnmgr, at most 63 characters. */}}
{{- define "fnmgr.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The OpenWhisk release whose services fnmgr uses. */}}
{{- define "fnmgr.owRelease" -}}
{{- default .Release.Name .Values.openwhisk.releaseName -}}
{{- end -}}

{{- define "fnmgr.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ default .Chart.AppVersion .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: openwhisk
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "fnmgr.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "fnmgr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "fnmgr.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Comma-separated controller URLs. */}}
{{- define "fnmgr.controllers" -}}
{{- if .Values.openwhisk.controller.urls -}}
{{- join "," .Values.openwhisk.controller.urls -}}
{{- else -}}
{{- printf "http://%s-controller:%v" (include "fnmgr.owRelease" .) .Values.openwhisk.controller.port -}}
{{- end -}}
{{- end -}}

{{/* Comma-separated Kafka brokers. */}}
{{- define "fnmgr.kafka" -}}
{{- if .Values.openwhisk.kafka.brokers -}}
{{- join "," .Values.openwhisk.kafka.brokers -}}
{{- else -}}
{{- printf "%s-kafka:%v" (include "fnmgr.owRelease" .) .Values.openwhisk.kafka.port -}}
{{- end -}}
{{- end -}}

{{/* CouchDB's host:port. */}}
{{- define "fnmgr.couchdb" -}}
{{- printf "%s:%v" (default (printf "%s-couchdb" (include "fnmgr.owRelease" .)) .Values.openwhisk.couchdb.host) .Values.openwhisk.couchdb.port -}}
{{- end -}}

{{/* The secret holding CouchDB's credentials. */}}
{{- define "fnmgr.couchdbSecret" -}}
{{- default (printf "%s-couchdb" (include "fnmgr.fullname" .)) .Values.openwhisk.couchdb.auth.existingSecret -}}
{{- end -}}
