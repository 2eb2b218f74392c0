{{/*
Names, labels and small lookups shared by every template.
*/}}

{{/*
The chart name, or nameOverride.
*/}}
{{- define "simplismart-scaler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the resources: fullnameOverride, or RELEASE-NAME (just RELEASE when it
already contains the name). Truncated to 63 characters, the DNS label limit.
*/}}
{{- define "simplismart-scaler.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "simplismart-scaler.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "simplismart-scaler.labels" -}}
helm.sh/chart: {{ include "simplismart-scaler.chart" . }}
{{ include "simplismart-scaler.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: simplismart-scaler
{{- end }}

{{/*
Labels that select the pods; never change them after a release: selectors are immutable.
*/}}
{{- define "simplismart-scaler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "simplismart-scaler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount's name.
*/}}
{{- define "simplismart-scaler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "simplismart-scaler.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository@digest when a digest is set, repository:tag otherwise
(tag defaulting to the chart's appVersion).
*/}}
{{- define "simplismart-scaler.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The Secret holding the API token: the existing one, or the one this chart creates.
Fails the install when neither an existing Secret nor a token is given.
*/}}
{{- define "simplismart-scaler.tokenSecretName" -}}
{{- if .Values.apiToken.existingSecret }}
{{- .Values.apiToken.existingSecret }}
{{- else }}
{{- $_ := required "set apiToken.existingSecret (recommended) or apiToken.value: the scaler needs a Simplismart API token" .Values.apiToken.value }}
{{- include "simplismart-scaler.fullname" . }}
{{- end }}
{{- end }}

{{/*
The key of the token inside that Secret.
*/}}
{{- define "simplismart-scaler.tokenSecretKey" -}}
{{- if .Values.apiToken.existingSecret }}
{{- .Values.apiToken.existingSecretKey }}
{{- else -}}
token
{{- end }}
{{- end }}

{{/*
The ConfigMap holding the policy files: the existing one, or the one this chart creates.
*/}}
{{- define "simplismart-scaler.policiesConfigMapName" -}}
{{- if .Values.policies.existingConfigMap }}
{{- .Values.policies.existingConfigMap }}
{{- else }}
{{- printf "%s-policies" (include "simplismart-scaler.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The PersistentVolumeClaim of the state volume: the existing one, or the one this chart
creates with state.persistence.enabled.
*/}}
{{- define "simplismart-scaler.stateClaimName" -}}
{{- if .Values.state.persistence.existingClaim }}
{{- .Values.state.persistence.existingClaim }}
{{- else }}
{{- printf "%s-state" (include "simplismart-scaler.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The state URL when it is not read from a Secret: state.url, or SQLite on the state volume.
*/}}
{{- define "simplismart-scaler.stateUrl" -}}
{{- default "sqlite:////var/lib/scaler/state.db" .Values.state.url }}
{{- end }}

{{/*
The job label Prometheus gives the scaler's targets: the ServiceMonitor takes it from the
Service's app.kubernetes.io/name label (jobLabel), which is the chart name or nameOverride.
The alert rules, the release notes and the dashboard's default select on it.
*/}}
{{- define "simplismart-scaler.job" -}}
{{- include "simplismart-scaler.name" . }}
{{- end }}

{{/*
The label matchers that pick this release's targets out of everything a Prometheus
scrapes: its job, and the namespace the Prometheus Operator labels each target with.
*/}}
{{- define "simplismart-scaler.targetMatchers" -}}
{{- printf "job=%q, namespace=%q" (include "simplismart-scaler.job" .) .Release.Namespace }}
{{- end }}
