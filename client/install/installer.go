package install

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Defaults for Config.
const (
	DefaultFieldManager        = "capctl"
	DefaultNamespace           = "default"
	DefaultDefinitionNamespace = "vela-system"
	DefaultRecordNamespace     = "capcenter-system"
	DefaultEstablishTimeout    = 60 * time.Second
)

// Config configures an Installer. Only REST is required.
type Config struct {
	// REST reaches the API server; the caller loads it from a kubeconfig.
	REST *rest.Config
	// FieldManager owns the fields Install applies; default "capctl".
	FieldManager string
	// Namespace is given to namespaced manifests that name none; default
	// "default".
	Namespace string
	// DefinitionNamespace holds the OAM definition objects; default
	// "vela-system", where KubeVela looks for them. It is created when
	// missing.
	DefinitionNamespace string
	// RecordNamespace holds the install records; default
	// "capcenter-system". It is created when missing.
	RecordNamespace string
	// EstablishTimeout bounds the wait for each applied
	// CustomResourceDefinition to be Established; default 60s.
	EstablishTimeout time.Duration
	// Logger receives progress at Info and details at Debug; nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.FieldManager, DefaultFieldManager)
	def(&c.Namespace, DefaultNamespace)
	def(&c.DefinitionNamespace, DefaultDefinitionNamespace)
	def(&c.RecordNamespace, DefaultRecordNamespace)
	if c.EstablishTimeout <= 0 {
		c.EstablishTimeout = DefaultEstablishTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// An Installer applies verified capability bundles to one cluster. It is
// safe for concurrent use, but two Installs of the same capability at once
// race on its record.
type Installer struct {
	cfg    Config
	kube   kubernetes.Interface
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// New returns an Installer for the cluster cfg.REST reaches. It contacts
// nothing; it fails only when cfg.REST is nil or unusable (e.g. a bad TLS
// configuration).
func New(cfg Config) (*Installer, error) {
	if cfg.REST == nil {
		return nil, errors.New("install: Config.REST is required")
	}
	cfg = cfg.withDefaults()
	if cfg.REST.QPS == 0 && cfg.REST.Burst == 0 && cfg.REST.RateLimiter == nil {
		// client-go's default of 5 requests/s (burst 10) throttles an
		// install, which makes a few requests per object (access reviews,
		// apply, record updates): 20 capabilities took 32 s instead of a
		// few. These are kubectl's discovery settings.
		rc := rest.CopyConfig(cfg.REST)
		rc.QPS, rc.Burst = 50, 300
		cfg.REST = rc
	}
	kube, err := kubernetes.NewForConfig(cfg.REST)
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg.REST)
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery()))
	return &Installer{cfg: cfg, kube: kube, dyn: dyn, mapper: mapper}, nil
}

// applyOptions are the server-side apply options: our field manager, and
// Force, since the objects are ours: a field another manager took over
// (e.g. by kubectl edit) is taken back, which is how drift is repaired.
func (in *Installer) applyOptions(dryRun bool) metav1.ApplyOptions {
	o := metav1.ApplyOptions{FieldManager: in.cfg.FieldManager, Force: true}
	if dryRun {
		o.DryRun = []string{metav1.DryRunAll}
	}
	return o
}
