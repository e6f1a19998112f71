{{- define "secustream-platform.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object; $component names the part (kafka, postgres, redis, monitoring, pipeline). */}}
{{- define "secustream-platform.labels" -}}
{{- $ := index . 0 }}{{- $component := index . 1 -}}
helm.sh/chart: {{ include "secustream-platform.chart" $ }}
app.kubernetes.io/name: secustream
app.kubernetes.io/instance: {{ $.Values.pipeline.name }}
app.kubernetes.io/component: {{ $component }}
app.kubernetes.io/part-of: secustream
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
{{- end }}

{{- define "secustream-platform.kafkaName" -}}
{{- default .Values.pipeline.name .Values.kafka.clusterName | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- define "secustream-platform.postgresName" -}}
{{- default (printf "%s-db" .Values.pipeline.name) .Values.postgres.clusterName | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- define "secustream-platform.redisName" -}}
{{- printf "%s-redis" .Values.pipeline.name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Redis selector labels (a StatefulSet selector is immutable). */}}
{{- define "secustream-platform.redisSelector" -}}
app.kubernetes.io/name: secustream
app.kubernetes.io/instance: {{ .Values.pipeline.name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "secustream-platform.bootstrapServers" -}}
{{- if .Values.kafka.enabled }}
{{- printf "%s-kafka-bootstrap:9092" (include "secustream-platform.kafkaName" .) }}
{{- else }}
{{- required "kafka.externalBootstrapServers is required when kafka.enabled=false" .Values.kafka.externalBootstrapServers }}
{{- end }}
{{- end }}

{{- define "secustream-platform.redisUrl" -}}
{{- if .Values.redis.enabled }}
{{- printf "redis://%s:6379/0" (include "secustream-platform.redisName" .) }}
{{- else }}
{{- required "redis.externalUrl is required when redis.enabled=false" .Values.redis.externalUrl }}
{{- end }}
{{- end }}

{{/* Replication factor: 3 where there are 3 brokers, else what there is. */}}
{{- define "secustream-platform.replicationFactor" -}}
{{- min 3 (int .Values.kafka.replicas) }}
{{- end }}
