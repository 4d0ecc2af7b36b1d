// The Go-template subset behind --format, checked against what Go's text/template (as
// docker uses it) prints for the same template and data.

import { describe, expect, it } from 'vitest';
import { compileTemplate, TemplateError } from '../../../cli/go-template.js';

const r = (src: string, data: unknown, strict = false) => compileTemplate(src, { strict }).render(data);

const svc = {
  ID: 'abc123',
  Spec: {
    Name: 'web',
    Labels: { tier: 'front', 'com.docker.stack.namespace': 'shop' },
    Mode: { Replicated: { Replicas: 3 } },
  },
  Ports: [80, 443],
  Empty: [],
};

describe('go templates', () => {
  it('field chains, dot and root', () => {
    expect(r('{{.ID}}', svc)).toBe('abc123');
    expect(r('{{.Spec.Name}}', svc)).toBe('web');
    expect(r('{{ .Spec.Mode.Replicated.Replicas }}', svc)).toBe('3');
    expect(r('{{.Spec.Mode.Global}}', svc)).toBe('<no value>');
    expect(r('{{with .Spec}}{{.Name}} of {{$.ID}}{{end}}', svc)).toBe('web of abc123');
    expect(r('{{.}}', 'x')).toBe('x');
  });

  it('json, maps and slices as Go prints them', () => {
    expect(r('{{json .Spec.Labels}}', svc)).toBe('{"tier":"front","com.docker.stack.namespace":"shop"}');
    expect(r('{{json .}}', { A: 1 })).toBe('{"A":1}');
    expect(r('{{.Spec.Labels}}', svc)).toBe('map[com.docker.stack.namespace:shop tier:front]');
    expect(r('{{.Ports}}', svc)).toBe('[80 443]');
    expect(r('{{.Spec.Name | json}}', svc)).toBe('"web"');
  });

  it('range over lists and maps, with variables and else', () => {
    expect(r('{{range .Ports}}{{.}};{{end}}', svc)).toBe('80;443;');
    expect(r('{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}} {{end}}', svc)).toBe(
      'com.docker.stack.namespace=shop tier=front ',
    );
    expect(r('{{range $i, $p := .Ports}}{{$i}}:{{$p}} {{end}}', svc)).toBe('0:80 1:443 ');
    expect(r('{{range .Empty}}x{{else}}none{{end}}', svc)).toBe('none');
    expect(r('{{$n := .Spec.Name}}{{$n}}!', svc)).toBe('web!');
  });

  it('if / else if / else with comparisons and logic', () => {
    const t = '{{if eq .Spec.Name "db"}}db{{else if gt (len .Ports) 1}}many{{else}}one{{end}}';
    expect(r(t, svc)).toBe('many');
    expect(r(t, { ...svc, Ports: [1] })).toBe('one');
    expect(r('{{if and .ID (not .Empty)}}yes{{end}}', svc)).toBe('yes');
    expect(r('{{or .Missing "fallback"}}', svc)).toBe('fallback');
  });

  it('docker functions: join, split, lower, upper, title, pad, truncate, index, printf', () => {
    expect(r('{{join .Ports ","}}', svc)).toBe('80,443');
    expect(r('{{index (split "a:b" ":") 1}}', {})).toBe('b');
    expect(r('{{upper .Spec.Name}} {{lower "X"}} {{title "hello world"}}', svc)).toBe('WEB x Hello World');
    expect(r('{{pad .ID 1 2}}|', svc)).toBe(' abc123  |');
    expect(r('{{truncate .ID 3}}', svc)).toBe('abc');
    expect(r('{{index .Spec.Labels "com.docker.stack.namespace"}}', svc)).toBe('shop');
    expect(r('{{printf "%s=%d (%q)" .Spec.Name 3 "x"}}', svc)).toBe('web=3 ("x")');
  });

  it('trim markers and literal text', () => {
    expect(r('a  {{- .ID -}}  b', svc)).toBe('aabc123b');
    expect(r('ID: {{.ID}}\n', svc)).toBe('ID: abc123\n');
  });

  it('errors are TemplateErrors naming the problem', () => {
    expect(() => compileTemplate('{{.ID')).toThrow(TemplateError);
    expect(() => compileTemplate('{{if .ID}}x')).toThrow(/missing \{\{end\}\}/);
    expect(() => compileTemplate('{{nosuch .ID}}')).toThrow(/function "nosuch" not defined/);
    expect(() => compileTemplate('{{end}}')).toThrow(/unexpected \{\{end\}\}/);
    expect(() => r('{{.Nope}}', { ID: 1 }, true)).toThrow(/can't evaluate field Nope/);
    expect(() => r('{{$x}}', {})).toThrow(/undefined variable "\$x"/);
  });
});
