package capabilities

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestSetParameter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		exprs []string
		want  string // the parameters as JSON, or the error's text
	}{
		{[]string{"image=nginx", "replicas=3"}, `{"image":"nginx","replicas":3}`},
		{[]string{"a.b.c=true"}, `{"a":{"b":{"c":true}}}`},
		{[]string{"ports[0].port=80", "ports[0].name=http", "ports[1].port=443"}, `{"ports":[{"name":"http","port":80},{"port":443}]}`},
		{[]string{"args[2]=x"}, `{"args":[null,null,"x"]}`},
		{[]string{"m[1][0]=1"}, `{"m":[null,[1]]}`},
		{[]string{"list=[a, b]", "list[1]=c"}, `{"list":["a","c"]}`},
		{[]string{"image=nginx", "image.tag=1"}, `image is not a mapping`},
		{[]string{"image=nginx", "image[0]=1"}, `image is not a list`},
		{[]string{"ports[0]=1", "ports[0].port=1"}, `ports[0] is not a mapping`},
		{[]string{"a[1024]=1"}, `index "1024": want a number from 0 to 1023`},
		{[]string{"a[-1]=1"}, `index "-1"`},
		{[]string{"a[+1]=1"}, `index "+1"`},
		{[]string{"a[]=1"}, `index ""`},
		{[]string{"a[0=1"}, `want name[index]`},
		{[]string{"a[0]x=1"}, `want name[index]`},
		{[]string{"[0]=1"}, `empty name`},
		{[]string{"a..b=1"}, `empty name`},
		{[]string{"novalue"}, `want path=value`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.exprs, " "), func(t *testing.T) {
			t.Parallel()
			params := map[string]any{}
			var err error
			for _, e := range tt.exprs {
				if err = SetParameter(params, e, false); err != nil {
					break
				}
			}
			if err != nil {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want ErrInvalid containing %q", err, tt.want)
				}
				return
			}
			got, _ := json.Marshal(params)
			if string(got) != tt.want {
				t.Fatalf("params = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSetParameterNilParams(t *testing.T) {
	t.Parallel()
	if err := SetParameter(nil, "a=1", false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SetParameter(nil) = %v, want ErrInvalid", err)
	}
}
