{{/*
Names. Kubernetes names are at most 63 characters; the longest suffix added below is "-operator".
*/}}
{{- define "ffmpeg-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ffmpeg-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 53 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 53 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 53 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ffmpeg-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels. Call the component ones with (dict "ctx" $ "component" "api").
*/}}
{{- define "ffmpeg-operator.labels" -}}
helm.sh/chart: {{ include "ffmpeg-operator.chart" . }}
{{ include "ffmpeg-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ffmpeg-operator
{{- end }}

{{- define "ffmpeg-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ffmpeg-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ffmpeg-operator.componentLabels" -}}
{{ include "ffmpeg-operator.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "ffmpeg-operator.componentSelectorLabels" -}}
{{ include "ffmpeg-operator.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Component names.
*/}}
{{- define "ffmpeg-operator.operatorName" -}}
{{- printf "%s-operator" (include "ffmpeg-operator.fullname" .) }}
{{- end }}

{{- define "ffmpeg-operator.apiName" -}}
{{- printf "%s-api" (include "ffmpeg-operator.fullname" .) }}
{{- end }}

{{- define "ffmpeg-operator.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "ffmpeg-operator.operatorName" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ffmpeg-operator.apiServiceAccountName" -}}
{{- if .Values.api.serviceAccount.create }}
{{- default (include "ffmpeg-operator.apiName" .) .Values.api.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.api.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ffmpeg-operator.peeringName" -}}
{{- default (include "ffmpeg-operator.fullname" .) .Values.operator.peering.name }}
{{- end }}

{{/*
Images.
*/}}
{{- define "ffmpeg-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "ffmpeg-operator.runImage" -}}
{{- default (include "ffmpeg-operator.image" .) .Values.runPods.image }}
{{- end }}

{{/*
Storage, credentials, addresses.
*/}}
{{- /* "true" when {diskfs} is a claim (diskfs.type claim or an existing claim), else "". */}}
{{- define "ffmpeg-operator.diskfsUsesClaim" -}}
{{- if or (eq .Values.diskfs.type "claim") .Values.diskfs.existingClaim }}true{{ end }}
{{- end }}

{{- define "ffmpeg-operator.diskfsClaim" -}}
{{- default (printf "%s-diskfs" (include "ffmpeg-operator.fullname" .)) .Values.diskfs.existingClaim }}
{{- end }}

{{- define "ffmpeg-operator.secretName" -}}
{{- default (printf "%s-auth" (include "ffmpeg-operator.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{- define "ffmpeg-operator.settingsSecretName" -}}
{{- default (printf "%s-settings" (include "ffmpeg-operator.fullname" .)) .Values.api.settingsSecret }}
{{- end }}

{{- /* api.hostNames, else the hosts of the API's Ingress, comma-separated. */}}
{{- define "ffmpeg-operator.hostNames" -}}
{{- $names := .Values.api.hostNames }}
{{- if and (not $names) .Values.api.ingress.enabled }}
{{- range .Values.api.ingress.hosts }}
{{- $names = append $names .host }}
{{- end }}
{{- end }}
{{- join "," $names }}
{{- end }}

{{- define "ffmpeg-operator.memfsUrl" -}}
{{- if .Values.memfs.url }}
{{- .Values.memfs.url }}
{{- else }}
{{- printf "http://%s.%s.svc:%d/memfs" (include "ffmpeg-operator.apiName" .) .Release.Namespace (int .Values.api.service.port) }}
{{- end }}
{{- end }}

{{/*
Environment shared by the API and the operator.
*/}}
{{- define "ffmpeg-operator.sharedEnv" -}}
- name: FFMPEG_OPERATOR_MEMFS_URL
  value: {{ include "ffmpeg-operator.memfsUrl" . | quote }}
- name: FFMPEG_OPERATOR_MEMFS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "ffmpeg-operator.secretName" . }}
      key: {{ .Values.auth.secretKeys.memfsPassword }}
{{- /* Run Pods read the password from the same Secret; their args only name $(VAR). */}}
- name: FFMPEG_OPERATOR_MEMFS_SECRET
  value: {{ include "ffmpeg-operator.secretName" . | quote }}
- name: FFMPEG_OPERATOR_MEMFS_SECRET_KEY
  value: {{ .Values.auth.secretKeys.memfsPassword | quote }}
{{- with .Values.mediaServer.rtmp }}
- name: FFMPEG_OPERATOR_RTMP_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.mediaServer.srt }}
- name: FFMPEG_OPERATOR_SRT_URL
  value: {{ . | quote }}
{{- end }}
- name: FFMPEG_OPERATOR_NODE_CPUS
  value: {{ .Values.nodeCpus | toString | quote }}
{{- end }}

