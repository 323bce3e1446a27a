/**
 * TF1 variable-scope names as NiftyNet gets them: every NiftyNet layer is a tf.make_template created when the layer
 * object is constructed, in the scope where it is constructed, with `variable_scope(None, default_name=name)`. A
 * second layer of the same name in the same scope becomes `name_1`, then `name_2`, … So networks here create their
 * layers' scopes in NiftyNet's construction order.
 */
export class Scope {
  private readonly used = new Set<string>();

  constructor(readonly name: string) {}

  /** A child scope with TF's default-name uniquing: `name`, `name_1`, `name_2`, … */
  unique(name: string): Scope {
    let candidate = name;
    for (let i = 1; this.used.has(candidate); i++) candidate = `${name}_${i}`;
    this.used.add(candidate);
    return new Scope(this.path(candidate));
  }

  /** `${this.name}/${leaf}` (a variable or op scope with a fixed name). */
  path(leaf: string): string {
    return this.name ? `${this.name}/${leaf}` : leaf;
  }
}
