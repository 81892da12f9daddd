package credentials

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NewReferencedReader is the reader of the Secrets and ConfigMaps connectors reference.
// It learns each object's resourceVersion from meta, a metadata-only cache (so the
// operator holds no value of the cluster's other Secrets, however many Helm releases
// keep theirs there), and reads the object itself from direct (the API server) only when
// that version changed, keeping just the referenced ones in memory.
func NewReferencedReader(meta, direct client.Reader) client.Reader {
	return &referencedReader{meta: meta, direct: direct, objects: map[referenceKey]client.Object{}}
}

type referenceKey struct {
	kind string
	key  types.NamespacedName
}

type referencedReader struct {
	meta, direct client.Reader
	mu           sync.Mutex
	objects      map[referenceKey]client.Object
}

// Get reads a Secret or ConfigMap.
func (r *referencedReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	var kind string
	switch obj.(type) {
	case *corev1.Secret:
		kind = "Secret"
	case *corev1.ConfigMap:
		kind = "ConfigMap"
	default:
		return fmt.Errorf("credentials: reading %T is not supported", obj)
	}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: kind})
	if err := r.meta.Get(ctx, key, m); err != nil {
		return err
	}
	k := referenceKey{kind, key}
	r.mu.Lock()
	cached := r.objects[k]
	r.mu.Unlock()
	if cached != nil && cached.GetResourceVersion() == m.GetResourceVersion() {
		return copyInto(cached, obj)
	}
	if err := r.direct.Get(ctx, key, obj); err != nil {
		return err
	}
	r.mu.Lock()
	r.objects[k] = obj.DeepCopyObject().(client.Object)
	r.mu.Unlock()
	return nil
}

// List is not supported: connectors reference objects by name.
func (r *referencedReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return fmt.Errorf("credentials: listing is not supported")
}

func copyInto(src, dst client.Object) error {
	switch d := dst.(type) {
	case *corev1.Secret:
		src.(*corev1.Secret).DeepCopyInto(d)
	case *corev1.ConfigMap:
		src.(*corev1.ConfigMap).DeepCopyInto(d)
	}
	return nil
}
