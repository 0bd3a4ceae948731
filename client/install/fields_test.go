package install

import (
	"slices"
	"testing"
)

func TestChangedFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a, b map[string]any
		want []string
	}{
		{"equal", map[string]any{"a": int64(1)}, map[string]any{"a": int64(1)}, nil},
		{"changed", map[string]any{"spec": map[string]any{"replicas": int64(2)}}, map[string]any{"spec": map[string]any{"replicas": int64(3)}}, []string{"~ spec.replicas"}},
		{"label keys quoted", map[string]any{"metadata": map[string]any{"labels": map[string]any{}}},
			map[string]any{"metadata": map[string]any{"labels": map[string]any{"capcenter.io/version": "1"}}}, []string{`+ metadata.labels["capcenter.io/version"]`}},
		{"removed", map[string]any{"a": "x", "b": "y"}, map[string]any{"a": "x"}, []string{"- b"}},
		{"lists", map[string]any{"l": []any{"x", "y"}}, map[string]any{"l": []any{"x", "z", "w"}}, []string{"~ l[1]", "+ l[2]"}},
		{"type change", map[string]any{"a": map[string]any{}}, map[string]any{"a": "s"}, []string{"~ a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := changedFields(tc.a, tc.b, "", nil); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
