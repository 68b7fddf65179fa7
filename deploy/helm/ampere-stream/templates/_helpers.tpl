{{/* Names, labels and the values every Ampere container shares. */}}

{{- define "ampere.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "ampere.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ampere.labels" -}}
app.kubernetes.io/name: {{ include "ampere.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels of one component: include "ampere.selector" (list $ "worker") */}}
{{- define "ampere.selector" -}}
app.kubernetes.io/name: {{ include "ampere.name" (index . 0) }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "ampere.kafkaCluster" -}}
{{- .Values.kafka.clusterName | default (include "ampere.fullname" .) -}}
{{- end -}}

{{- define "ampere.kafkaBootstrap" -}}
{{- if .Values.kafka.strimzi.enabled -}}
{{- /* fully qualified: KEDA resolves a trigger's address in its own namespace */ -}}
{{- printf "%s-kafka-bootstrap.%s.svc:%d" (include "ampere.kafkaCluster" .) .Release.Namespace (int .Values.kafka.strimzi.listenerPort) -}}
{{- else -}}
{{- required "kafka.external.bootstrap is required when kafka.strimzi.enabled is false" .Values.kafka.external.bootstrap -}}
{{- end -}}
{{- end -}}

{{/* SASL user of a component ("worker", "gateway", "dashboard", "subscriber") */}}
{{- define "ampere.kafkaUser" -}}
{{- printf "%s-%s" (include "ampere.kafkaCluster" (index . 0)) (index . 1) -}}
{{- end -}}

{{- define "ampere.weaviateName" -}}
{{- printf "%s-weaviate" (include "ampere.fullname" .) -}}
{{- end -}}

{{- define "ampere.weaviateUrl" -}}
{{- if .Values.weaviate.enabled -}}
{{- printf "http://%s:8080" (include "ampere.weaviateName" .) -}}
{{- else -}}
{{- required "weaviate.external.url is required when weaviate.enabled is false" .Values.weaviate.external.url -}}
{{- end -}}
{{- end -}}

{{- define "ampere.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "ampere.containerSecurity" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Ampere's own containers: the root filesystem is read-only; they write to /var/lib/ampere and /tmp only */}}
{{- define "ampere.appSecurity" -}}
{{ include "ampere.containerSecurity" . }}
readOnlyRootFilesystem: true
{{- end -}}

{{/* Ampere's pods: their own ServiceAccount, no API token (nothing here calls the Kubernetes API) */}}
{{- define "ampere.podAccount" -}}
serviceAccountName: {{ include "ampere.fullname" . }}
automountServiceAccountToken: false
{{- end -}}

{{/* Kafka and Weaviate settings of a component ("worker", "gateway", "dashboard"): secrets are referenced, never inlined */}}
{{- define "ampere.clientEnv" -}}
{{- $ := index . 0 -}}
{{- $component := index . 1 -}}
{{- $user := ternary $component "worker" (has $component (list "gateway" "dashboard")) -}}
{{- $k := $.Values.kafka -}}
{{- if or $k.strimzi.enabled $k.external.sasl.existingSecret }}
- name: AMPERE_KAFKA_SASL_USERNAME
  value: {{ ternary (include "ampere.kafkaUser" (list $ $user)) ($k.external.sasl.username | default "") $k.strimzi.enabled | quote }}
- name: AMPERE_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ ternary (include "ampere.kafkaUser" (list $ $user)) $k.external.sasl.existingSecret $k.strimzi.enabled }}
      key: {{ ternary "password" $k.external.sasl.passwordKey $k.strimzi.enabled }}
{{- end }}
{{- if or $k.strimzi.enabled $k.external.caSecret }}
- name: AMPERE_KAFKA_SSL_CAFILE
  value: /etc/ampere/kafka-ca/ca.crt
{{- end }}
{{- if ne $component "gateway" }}
- name: AMPERE_WEAVIATE_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ required "weaviate.apiKey.existingSecret is required" $.Values.weaviate.apiKey.existingSecret }}
      key: {{ $.Values.weaviate.apiKey.clientKey | default $.Values.weaviate.apiKey.key }}
{{- end }}
{{- end -}}

{{/* the Kafka cluster CA as a file (TLS listener) */}}
{{- define "ampere.caVolume" -}}
{{- $k := .Values.kafka -}}
{{- if or $k.strimzi.enabled $k.external.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ ternary (printf "%s-cluster-ca-cert" (include "ampere.kafkaCluster" .)) $k.external.caSecret $k.strimzi.enabled }}
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end -}}

{{- define "ampere.caMount" -}}
{{- if or .Values.kafka.strimzi.enabled .Values.kafka.external.caSecret }}
- name: kafka-ca
  mountPath: /etc/ampere/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* What a broker and a topic take as one record batch: AMPERE_MAX_MESSAGE_BYTES plus the batch overhead
the producers add (streams/kafka/config.py BATCH_OVERHEAD_BYTES, 64 KiB) */}}
{{- define "ampere.maxBatchBytes" -}}
{{- add (.Values.topics.maxMessageBytes | int64) 65536 -}}
{{- end -}}
