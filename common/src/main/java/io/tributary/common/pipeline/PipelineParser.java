package io.tributary.common.pipeline;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * Reads a pipeline file (docs/pipeline.md) into a {@link Pipeline}. Every problem is collected with
 * the line and the path of the field it concerns, and all of them are reported together in one
 * {@link PipelineException}, so a user fixes a bad file in one pass.
 */
public final class PipelineParser {

  private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]*");
  private static final Pattern FIELD_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  private static final Pattern MEASURE = Pattern.compile("\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*\\(\\s*([^()\\s]*)\\s*\\)\\s*");
  private static final Set<String> TOP_LEVEL = Set.of("pipeline", "store", "schema", "lookups", "histories", "aggregations", "buses",
      "sources");
  private static final Set<String> SCHEMA_KEYS = Set.of("id", "key", "time", "fields");
  private static final Set<String> TIME_KEYS = Set.of("field", "maxAhead");
  private static final Set<String> FIELD_KEYS = Set.of("type", "required");
  private static final Set<String> LOOKUP_KEYS = Set.of("name", "kind", "store", "by", "fields", "onMissing", "action", "cache", "table");
  private static final Set<String> CACHE_KEYS = Set.of("size", "ttl");
  private static final Set<String> HISTORY_KEYS = Set.of("name", "by", "store", "keep", "retention", "features", "matches");
  private static final Set<String> OVER_KEYS = Set.of("measure", "last");
  private static final Set<String> LATEST_KEYS = Set.of("latest", "n");
  private static final Set<String> MATCHES_KEYS = Set.of("last", "limit");
  private static final int MAX_LATEST = 100;
  private static final int MAX_MATCHES = 1000;
  private static final Duration MAX_HISTORY_WINDOW = Duration.ofDays(400);
  private static final Set<String> AGGREGATION_KEYS = Set.of("name", "groupBy", "window", "allowedLateness", "retention", "measures");
  private static final Set<String> WINDOW_KEYS = Set.of("tumbling", "hopping", "every");
  private static final Set<String> BUS_KEYS = Set.of("ingested", "enriched", "updates", "deadLetter", "outputs");

  private final String source;
  private final List<String> problems = new ArrayList<>();

  private PipelineParser(String source) {
    this.source = source;
  }

  public static Pipeline parse(Path file) {
    try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      return new PipelineParser(file.toString()).read(reader);
    } catch (IOException e) {
      throw new PipelineException(file.toString(), List.of("cannot read the file: " + e.getMessage()));
    }
  }

  public static Pipeline parse(String yaml, String source) {
    return new PipelineParser(source).read(new StringReader(yaml));
  }

  private Pipeline read(Reader reader) {
    Node root;
    try {
      LoaderOptions options = new LoaderOptions();
      options.setAllowDuplicateKeys(false);
      root = new Yaml(options).compose(reader);
    } catch (MarkedYAMLException e) {
      int line = e.getProblemMark() == null ? 0 : e.getProblemMark().getLine() + 1;
      throw new PipelineException(source, List.of("line " + line + ": not valid YAML: " + e.getProblem()));
    } catch (RuntimeException e) {
      throw new PipelineException(source, List.of("not valid YAML: " + e.getMessage()));
    }
    if (!(root instanceof MappingNode top)) {
      throw new PipelineException(source, List.of("line 1: the file must be a mapping with 'pipeline', 'schema', ..."));
    }
    Map<String, Node> entries = mapping(top, "", TOP_LEVEL);
    String name = requiredName(entries, "pipeline", "pipeline", top);
    Store store = enumValue(entries.get("store"), "store", Store.class, Store.REDIS);
    Schema schema = schema(entries.get("schema"), top);
    List<Lookup> lookups = lookups(entries.get("lookups"), schema, store);
    List<History> histories = histories(entries.get("histories"), schema, lookups, store);
    List<Aggregation> aggregations = aggregations(entries.get("aggregations"), schema, lookups, histories);
    Buses buses = buses(entries.get("buses"));
    List<BusRef> sources = sources(entries.get("sources"));
    if (!problems.isEmpty()) {
      throw new PipelineException(source, problems);
    }
    return new Pipeline(name, store, schema, lookups, histories, aggregations, buses, sources);
  }

  // ---- schema ------------------------------------------------------------------------------

  private Schema schema(Node node, Node parent) {
    if (node == null) {
      problem(parent, "schema", "is missing: every pipeline declares its event schema");
      return new Schema("id", "key", null, Schema.DEFAULT_MAX_AHEAD, Map.of());
    }
    Map<String, Node> entries = mapping(node, "schema", SCHEMA_KEYS);
    String id = requiredFieldName(entries, "id", "schema.id", node);
    String key = requiredFieldName(entries, "key", "schema.key", node);
    String time = null;
    Duration maxAhead = Schema.DEFAULT_MAX_AHEAD;
    Node timeNode = entries.get("time");
    if (timeNode instanceof MappingNode) {
      Map<String, Node> timeEntries = mapping(timeNode, "schema.time", TIME_KEYS);
      time = requiredFieldName(timeEntries, "field", "schema.time.field", timeNode);
      if (timeEntries.containsKey("maxAhead")) {
        Duration d = duration(timeEntries.get("maxAhead"), "schema.time.maxAhead");
        if (d != null && d.isZero()) {
          problem(timeEntries.get("maxAhead"), "schema.time.maxAhead", "must be a positive duration such as 1h");
        } else if (d != null) {
          maxAhead = d;
        }
      }
    } else if (timeNode != null) {
      time = fieldName(timeNode, "schema.time");
    }
    Map<String, FieldSpec> fields = new LinkedHashMap<>();
    Node fieldsNode = entries.get("fields");
    if (fieldsNode == null) {
      problem(node, "schema.fields", "is missing: declare the event's fields and their types");
    } else {
      for (NodeTuple tuple : tuples(fieldsNode, "schema.fields")) {
        String fieldName = scalar(tuple.getKeyNode(), "schema.fields");
        if (fieldName == null) {
          continue;
        }
        String path = "schema.fields." + fieldName;
        if (!FIELD_NAME.matcher(fieldName).matches()) {
          problem(tuple.getKeyNode(), path, "is not a valid field name (letters, digits, _)");
        }
        FieldSpec spec = fieldSpec(fieldName, tuple.getValueNode(), path);
        if (spec != null) {
          fields.put(fieldName, spec);
        }
      }
    }
    // id and key are always present on a valid event, declared or not.
    for (String implicit : new String[] {id, key}) {
      if (implicit != null) {
        FieldSpec declared = fields.get(implicit);
        if (declared == null) {
          fields.put(implicit, new FieldSpec(implicit, FieldType.STRING, true));
        } else if (!declared.required()) {
          fields.put(implicit, new FieldSpec(implicit, declared.type(), true));
        }
      }
    }
    if (time != null) {
      // Required like any other field, declared or not; "required: false" is the explicit ask for arrival time.
      FieldSpec declared = fields.get(time);
      fields.put(time, new FieldSpec(time, FieldType.TIMESTAMP, declared == null || declared.required()));
    }
    return new Schema(id, key, time, maxAhead, fields);
  }

  private FieldSpec fieldSpec(String name, Node node, String path) {
    String typeText;
    boolean required = true;
    Node typeNode = node;
    if (node instanceof MappingNode) {
      Map<String, Node> entries = mapping(node, path, FIELD_KEYS);
      typeNode = entries.get("type");
      if (typeNode == null) {
        problem(node, path + ".type", "is missing");
        return null;
      }
      if (entries.containsKey("required")) {
        Boolean value = bool(entries.get("required"), path + ".required");
        required = value == null || value;
      }
    }
    typeText = scalar(typeNode, path);
    if (typeText == null) {
      return null;
    }
    Optional<FieldType> type = FieldType.fromYaml(typeText);
    if (type.isEmpty()) {
      problem(typeNode, path, "unknown type '" + typeText + "'; known types: " + known(FieldType.values(), FieldType::yamlName));
      return null;
    }
    return new FieldSpec(name, type.get(), required);
  }

  // ---- look-ups ----------------------------------------------------------------------------

  private List<Lookup> lookups(Node node, Schema schema, Store pipelineStore) {
    List<Lookup> lookups = new ArrayList<>();
    if (node == null) {
      return lookups;
    }
    Set<String> names = new HashSet<>();
    int i = 0;
    for (Node item : sequence(node, "lookups")) {
      String path = itemPath(item, "lookups", i++);
      Map<String, Node> e = mapping(item, path, LOOKUP_KEYS);
      String name = requiredName(e, "name", path + ".name", item);
      if (name != null) {
        if (!names.add(name)) {
          problem(e.get("name"), path, "is declared twice");
        }
        if (schema.fields().containsKey(name)) {
          problem(e.get("name"), path, "has the name of a schema field; look-up names and field names must differ");
        }
      }
      Lookup.Kind kind = enumValue(e.get("kind"), path + ".kind", Lookup.Kind.class, Lookup.Kind.RECORD);
      Store store = enumValue(e.get("store"), path + ".store", Store.class, pipelineStore);
      String by = requiredFieldName(e, "by", path + ".by", item);
      if (by != null && !schema.fields().containsKey(by)) {
        problem(e.get("by"), path + ".by", "names '" + by + "', which is not a field of the schema");
      }
      List<String> fields = new ArrayList<>();
      if (kind == Lookup.Kind.RECORD) {
        if (!e.containsKey("fields")) {
          problem(item, path + ".fields", "is missing: a record look-up lists the fields it adds");
        } else {
          for (Node f : sequence(e.get("fields"), path + ".fields")) {
            String field = fieldName(f, path + ".fields");
            if (field != null) {
              fields.add(field);
            }
          }
          if (fields.isEmpty()) {
            problem(e.get("fields"), path + ".fields", "is empty: a record look-up adds at least one field");
          }
        }
        if (e.containsKey("action")) {
          problem(e.get("action"), path + ".action", "applies to set look-ups only; record look-ups use onMissing");
        }
      } else {
        if (e.containsKey("fields")) {
          problem(e.get("fields"), path + ".fields", "applies to record look-ups only");
        }
        if (e.containsKey("onMissing")) {
          problem(e.get("onMissing"), path + ".onMissing", "applies to record look-ups only; set look-ups use action");
        }
      }
      Lookup.OnMissing onMissing = enumValue(e.get("onMissing"), path + ".onMissing", Lookup.OnMissing.class, Lookup.OnMissing.PASS);
      Lookup.SetAction action = enumValue(e.get("action"), path + ".action", Lookup.SetAction.class, Lookup.SetAction.DROP);
      Lookup.NearCache cache = e.containsKey("cache") ? nearCache(e.get("cache"), path + ".cache") : null;
      String table = e.containsKey("table") ? name(e.get("table"), path + ".table") : name;
      if (e.containsKey("table") && store != Store.SQL) {
        problem(e.get("table"), path + ".table", "applies to look-ups with store: sql only");
      }
      lookups.add(new Lookup(name, kind, store, by, fields, onMissing, action, cache, table));
    }
    return lookups;
  }

  private Lookup.NearCache nearCache(Node node, String path) {
    Map<String, Node> e = mapping(node, path, CACHE_KEYS);
    Long size = e.containsKey("size") ? integer(e.get("size"), path + ".size") : null;
    if (size == null || size < 1 || size > 100_000_000) {
      problem(node, path + ".size", "must be a whole number of entries between 1 and 100000000");
      size = 1L;
    }
    Duration ttl = e.containsKey("ttl") ? duration(e.get("ttl"), path + ".ttl") : null;
    if (ttl == null || ttl.isZero()) {
      problem(node, path + ".ttl", "must be a positive duration such as 30s or 5m");
      ttl = Duration.ofSeconds(1);
    }
    return new Lookup.NearCache(size.intValue(), ttl);
  }

  // ---- histories ---------------------------------------------------------------------------

  private List<History> histories(Node node, Schema schema, List<Lookup> lookups, Store pipelineStore) {
    List<History> histories = new ArrayList<>();
    if (node == null) {
      return histories;
    }
    Set<String> names = new HashSet<>();
    lookups.forEach(l -> names.add(l.name()));
    int i = 0;
    for (Node item : sequence(node, "histories")) {
      String path = itemPath(item, "histories", i++);
      Map<String, Node> e = mapping(item, path, HISTORY_KEYS);
      String name = requiredName(e, "name", path + ".name", item);
      if (name != null) {
        if (!names.add(name)) {
          problem(e.get("name"), path, "is declared twice (history and look-up names share the event's field space)");
        }
        if (schema.fields().containsKey(name)) {
          problem(e.get("name"), path, "has the name of a schema field; history names and field names must differ");
        }
      }
      List<String> by = new ArrayList<>();
      if (e.containsKey("by")) {
        Node byNode = e.get("by");
        for (Node b : byNode instanceof ScalarNode ? List.of(byNode) : sequence(byNode, path + ".by")) {
          String field = fieldName(b, path + ".by");
          if (field != null && !schema.fields().containsKey(field)) {
            problem(b, path + ".by", "names '" + field + "', which is not a field of the schema");
          } else if (field != null) {
            by.add(field);
          }
        }
        if (schema.keyField() != null && !by.isEmpty() && !by.contains(schema.keyField())) {
          problem(byNode, path + ".by", "must include the entity key '" + schema.keyField() + "': a key's events must all"
              + " come through one partition, in order, for its features to be the same on every replay");
        }
      } else if (schema.keyField() != null) {
        by.add(schema.keyField());
      }
      Store store = enumValue(e.get("store"), path + ".store", Store.class, pipelineStore);
      Set<String> keep = new LinkedHashSet<>();
      if (e.containsKey("keep")) {
        for (Node k : sequence(e.get("keep"), path + ".keep")) {
          String ref = scalar(k, path + ".keep");
          if (ref != null && checkFieldRef(k, path + ".keep", ref, schema, lookups, List.of(), false)) {
            keep.add(ref);
          }
        }
      }
      Map<String, History.Feature> features = new LinkedHashMap<>();
      if (!e.containsKey("features") && !e.containsKey("matches")) {
        problem(item, path + ".features", "is missing: a history adds features to events, or emits matches");
      }
      if (e.containsKey("features")) {
        for (NodeTuple tuple : tuples(e.get("features"), path + ".features")) {
          String featureName = fieldName(tuple.getKeyNode(), path + ".features");
          if (featureName == null) {
            continue;
          }
          History.Feature feature = feature(tuple.getValueNode(), path + ".features." + featureName, featureName, schema, lookups);
          if (feature instanceof History.Over over && over.measure().field() != null) {
            keep.add(over.measure().field());
          } else if (feature instanceof History.Latest latest) {
            keep.add(latest.field());
          }
          if (feature != null) {
            features.put(featureName, feature);
          }
        }
      }
      History.Matches matches = e.containsKey("matches") ? matches(e.get("matches"), path + ".matches") : null;
      Duration longest = Duration.ZERO;
      for (History.Feature f : features.values()) {
        if (f instanceof History.Over over && over.last().compareTo(longest) > 0) {
          longest = over.last();
        }
      }
      if (matches != null && matches.last().compareTo(longest) > 0) {
        longest = matches.last();
      }
      Duration retention = longest;
      if (e.containsKey("retention")) {
        Duration declared = duration(e.get("retention"), path + ".retention");
        if (declared != null && declared.compareTo(longest) < 0) {
          problem(e.get("retention"), path + ".retention", "(" + Durations.format(declared) + ") is shorter than the longest"
              + " feature window (" + Durations.format(longest) + "): its features would miss stored events");
        } else if (declared != null) {
          retention = declared;
        }
      }
      if (retention.isZero()) {
        retention = Duration.ofDays(1);
      }
      if (matches != null && histories.stream().anyMatch(h -> h.matches() != null)) {
        problem(e.get("matches"), path + ".matches", "only one history may emit matches: each event fans out once");
      }
      histories.add(new History(name, by, store, new ArrayList<>(keep), retention, features, matches));
    }
    return histories;
  }

  private History.Feature feature(Node node, String path, String name, Schema schema, List<Lookup> lookups) {
    if (!(node instanceof MappingNode map)) {
      problem(node, path, "must be {measure: FUNCTION(FIELD), last: DURATION} or {latest: FIELD, n: COUNT}");
      return null;
    }
    boolean latest = map.getValue().stream().anyMatch(t -> t.getKeyNode() instanceof ScalarNode k && k.getValue().equals("latest"));
    Map<String, Node> e = mapping(node, path, latest ? LATEST_KEYS : OVER_KEYS);
    if (latest) {
      String ref = scalar(e.get("latest"), path + ".latest");
      if (ref == null || !checkFieldRef(e.get("latest"), path + ".latest", ref, schema, lookups, List.of(), false)) {
        return null;
      }
      Long n = e.containsKey("n") ? integer(e.get("n"), path + ".n") : Long.valueOf(1);
      if (n == null || n < 1 || n > MAX_LATEST) {
        problem(e.getOrDefault("n", node), path + ".n", "must be a whole number between 1 and " + MAX_LATEST);
        return null;
      }
      return new History.Latest(name, ref, n.intValue());
    }
    if (!e.containsKey("measure") || !e.containsKey("last")) {
      problem(node, path, "needs 'measure' (e.g. sum(amount)) and 'last' (e.g. 1h)");
      return null;
    }
    String text = scalar(e.get("measure"), path + ".measure");
    Measure measure = text == null ? null : measure(e.get("measure"), path + ".measure", name, text, schema, lookups, List.of());
    Duration last = historyWindow(e.get("last"), path + ".last");
    return measure == null || last == null ? null : new History.Over(name, measure, last);
  }

  private Duration historyWindow(Node node, String path) {
    Duration d = positiveDuration(node, path);
    if (d != null && d.compareTo(MAX_HISTORY_WINDOW) > 0) {
      problem(node, path, "(" + Durations.format(d) + ") is longer than " + Durations.format(MAX_HISTORY_WINDOW));
      return null;
    }
    return d;
  }

  private History.Matches matches(Node node, String path) {
    Map<String, Node> e = mapping(node, path, MATCHES_KEYS);
    if (!e.containsKey("last")) {
      problem(node, path + ".last", "is missing: how far back a stored event still matches, e.g. 1h");
      return null;
    }
    Duration last = historyWindow(e.get("last"), path + ".last");
    Long limit = e.containsKey("limit") ? integer(e.get("limit"), path + ".limit") : Long.valueOf(10);
    if (limit == null || limit < 1 || limit > MAX_MATCHES) {
      problem(e.getOrDefault("limit", node), path + ".limit", "must be a whole number between 1 and " + MAX_MATCHES);
      return null;
    }
    return last == null ? null : new History.Matches(last, limit.intValue());
  }

  // ---- aggregations ------------------------------------------------------------------------

  private List<Aggregation> aggregations(Node node, Schema schema, List<Lookup> lookups, List<History> histories) {
    List<Aggregation> aggregations = new ArrayList<>();
    if (node == null) {
      return aggregations;
    }
    Set<String> names = new HashSet<>();
    int i = 0;
    for (Node item : sequence(node, "aggregations")) {
      String path = itemPath(item, "aggregations", i++);
      Map<String, Node> e = mapping(item, path, AGGREGATION_KEYS);
      String name = requiredName(e, "name", path + ".name", item);
      if (name != null) {
        if (!names.add(name)) {
          problem(e.get("name"), path, "is declared twice");
        }
      }
      List<String> groupBy = new ArrayList<>();
      if (!e.containsKey("groupBy")) {
        problem(item, path + ".groupBy", "is missing: list the fields that form the group key");
      } else {
        Node groupNode = e.get("groupBy");
        List<Node> items = groupNode instanceof ScalarNode ? List.of(groupNode) : sequence(groupNode, path + ".groupBy");
        for (Node g : items) {
          String ref = scalar(g, path + ".groupBy");
          if (ref != null && checkFieldRef(g, path + ".groupBy", ref, schema, lookups, histories, false)) {
            groupBy.add(ref);
          }
        }
        if (groupBy.isEmpty() && items.isEmpty()) {
          problem(groupNode, path + ".groupBy", "is empty: list at least one field");
        }
      }
      WindowSpec window = window(e.get("window"), path + ".window", item);
      Duration lateness = e.containsKey("allowedLateness") ? duration(e.get("allowedLateness"), path + ".allowedLateness") : Duration.ZERO;
      if (lateness == null) {
        lateness = Duration.ZERO;
      }
      Duration retention = null;
      if (e.containsKey("retention")) {
        retention = duration(e.get("retention"), path + ".retention");
        if (retention != null && window != null && retention.compareTo(window.size().plus(lateness)) < 0) {
          problem(e.get("retention"), path + ".retention", "(" + Durations.format(retention)
              + ") is shorter than the window size plus allowedLateness (" + Durations.format(window.size().plus(lateness))
              + "): windows would expire before they close");
        }
      }
      if (retention == null && window != null) {
        retention = window.size().plus(lateness);
      }
      Map<String, Measure> measures = measures(e.get("measures"), path + ".measures", item, schema, lookups, histories);
      aggregations.add(new Aggregation(name, groupBy, window, lateness, retention, measures));
    }
    return aggregations;
  }

  private WindowSpec window(Node node, String path, Node parent) {
    if (node == null) {
      problem(parent, path, "is missing: give {tumbling: SIZE} or {hopping: SIZE, every: ADVANCE}");
      return null;
    }
    Map<String, Node> e = mapping(node, path, WINDOW_KEYS);
    if (e.containsKey("tumbling") == e.containsKey("hopping")) {
      problem(node, path, "needs a size: exactly one of 'tumbling: SIZE' or 'hopping: SIZE' (with 'every: ADVANCE')");
      return null;
    }
    if (e.containsKey("tumbling")) {
      if (e.containsKey("every")) {
        problem(e.get("every"), path + ".every", "applies to hopping windows only");
      }
      Duration size = positiveDuration(e.get("tumbling"), path + ".tumbling");
      return size == null ? null : WindowSpec.tumbling(size);
    }
    Duration size = positiveDuration(e.get("hopping"), path + ".hopping");
    if (!e.containsKey("every")) {
      problem(node, path + ".every", "is missing: a hopping window says how often a window starts");
      return null;
    }
    Duration every = positiveDuration(e.get("every"), path + ".every");
    if (size == null || every == null) {
      return null;
    }
    if (every.compareTo(size) > 0) {
      problem(e.get("every"), path + ".every", "(" + Durations.format(every) + ") is longer than the window ("
          + Durations.format(size) + "): events between windows would be lost");
      return null;
    }
    return WindowSpec.hopping(size, every);
  }

  private Map<String, Measure> measures(Node node, String path, Node parent, Schema schema, List<Lookup> lookups,
      List<History> histories) {
    Map<String, Measure> measures = new LinkedHashMap<>();
    if (node == null) {
      problem(parent, path, "is missing: give at least one measure, e.g. {count: count()}");
      return measures;
    }
    for (NodeTuple tuple : tuples(node, path)) {
      String name = fieldName(tuple.getKeyNode(), path);
      String text = scalar(tuple.getValueNode(), path + "." + name);
      if (name == null || text == null) {
        continue;
      }
      Measure measure = measure(tuple.getValueNode(), path + "." + name, name, text, schema, lookups, histories);
      if (measure != null) {
        measures.put(name, measure);
      }
    }
    if (measures.isEmpty() && problems.isEmpty()) {
      problem(node, path, "is empty: give at least one measure");
    }
    return measures;
  }

  /** One {@code FUNCTION(FIELD)} measure, or null (with the problem recorded). */
  private Measure measure(Node node, String path, String name, String text, Schema schema, List<Lookup> lookups,
      List<History> histories) {
    Matcher m = MEASURE.matcher(text);
    if (!m.matches()) {
      problem(node, path, "'" + text + "' is not a measure; write FUNCTION(FIELD), e.g. sum(amount)");
      return null;
    }
    String functionName = m.group(1);
    String field = m.group(2).isEmpty() ? null : m.group(2);
    Optional<Measure.Function> function = Measure.Function.fromYaml(functionName);
    if (function.isEmpty()) {
      problem(node, path, "unknown measure '" + functionName + "' in '" + text.trim()
          + "'; known measures: count(), sum(f), min(f), max(f), avg(f), distinct(f)");
      return null;
    }
    Measure.Function f = function.get();
    if (f == Measure.Function.COUNT) {
      if (field != null) {
        problem(node, path, "count() takes no field; it counts events");
        return null;
      }
    } else if (field == null) {
      problem(node, path, f.yamlName() + "() needs a field, e.g. " + f.yamlName() + "(amount)");
      return null;
    } else if (!checkFieldRef(node, path, field, schema, lookups, histories, f.numeric())) {
      return null;
    }
    return new Measure(name, f, field);
  }

  /**
   * A field an aggregation or a history refers to: a schema field, a look-up's added field, a flag set
   * by a look-up, or a history's feature.
   */
  private boolean checkFieldRef(Node node, String path, String ref, Schema schema, List<Lookup> lookups, List<History> histories,
      boolean numeric) {
    FieldSpec spec = schema.field(ref);
    if (spec != null) {
      if (numeric && !spec.type().isNumeric()) {
        problem(node, path, "'" + ref + "' is a " + spec.type().yamlName() + " field; this measure needs a number or integer field");
        return false;
      }
      return true;
    }
    int dot = ref.indexOf('.');
    FieldSpec parent = dot < 0 ? null : schema.field(ref.substring(0, dot));
    if (parent != null && parent.type() == FieldType.OBJECT && ref.indexOf('.', dot + 1) < 0) {
      // A field one level inside an object field (measures.total of an upstream's update record):
      // its type is not declared, so a measure that needs a number skips events where it is not one.
      return true;
    }
    String lookupName = dot < 0 ? ref : ref.substring(0, dot);
    Optional<History> history = histories.stream().filter(h -> h.name().equals(lookupName)).findFirst();
    if (history.isPresent()) {
      History.Feature feature = dot < 0 ? null : history.get().features().get(ref.substring(dot + 1));
      if (feature == null) {
        problem(node, path, "history '" + lookupName + "' has no feature '" + (dot < 0 ? "" : ref.substring(dot + 1))
            + "'; it adds " + history.get().features().keySet());
        return false;
      }
      if (feature instanceof History.Latest) {
        problem(node, path, "'" + ref + "' is a list of latest values; group or measure by a measure feature");
        return false;
      }
      return true;
    }
    Optional<Lookup> lookup = lookups.stream().filter(l -> l.name().equals(lookupName)).findFirst();
    if (lookup.isEmpty()) {
      problem(node, path, "'" + ref + "' is neither a schema field nor a field of a look-up"
          + (dot < 0 ? "" : " (no look-up named '" + lookupName + "')"));
      return false;
    }
    Lookup l = lookup.get();
    if (dot < 0) {
      if (l.isSet() && l.action() == Lookup.SetAction.FLAG && !numeric) {
        return true;
      }
      problem(node, path, "'" + ref + "' names a look-up; refer to one of its fields, e.g. " + lookupName + "."
          + (l.fields().isEmpty() ? "FIELD" : l.fields().get(0)) + (l.isSet() ? " (a set look-up with action: flag adds the boolean field '" + lookupName + "')" : ""));
      return false;
    }
    String field = ref.substring(dot + 1);
    if (l.isSet() || !l.fields().contains(field)) {
      problem(node, path, "look-up '" + lookupName + "' does not add a field '" + field + "'"
          + (l.isSet() ? "" : "; it adds " + l.fields()));
      return false;
    }
    return true;
  }

  // ---- buses and sources -------------------------------------------------------------------

  private Buses buses(Node node) {
    Map<String, Node> e = node == null ? Map.of() : mapping(node, "buses", BUS_KEYS);
    BusRef ingested = busRef(e.get("ingested"), "buses.ingested", "kafka:events.ingested");
    BusRef enriched = busRef(e.get("enriched"), "buses.enriched", "kafka:events.enriched");
    Set<BusRef> outputs = new LinkedHashSet<>();
    if (e.get("outputs") != null) {
      int i = 0;
      for (Node item : sequence(e.get("outputs"), "buses.outputs")) {
        String path = "buses.outputs[" + i++ + "]";
        String name = scalar(item, path);
        if ("ingested".equals(name)) {
          outputs.add(ingested);
        } else if ("enriched".equals(name)) {
          outputs.add(enriched);
        } else if (name != null) {
          problem(item, path, "'" + name + "' is not a bus between stages; outputs lists ingested or enriched "
              + "(updates and deadLetter are outputs always)");
        }
      }
    }
    outputs.remove(null);
    return new Buses(ingested, enriched,
        busRef(e.get("updates"), "buses.updates", "kafka:aggregates.updates"),
        busRef(e.get("deadLetter"), "buses.deadLetter", "kafka:events.dlq"),
        outputs);
  }

  private List<BusRef> sources(Node node) {
    List<BusRef> sources = new ArrayList<>();
    if (node != null) {
      int i = 0;
      for (Node item : sequence(node, "sources")) {
        BusRef ref = busRef(item, "sources[" + i++ + "]", null);
        if (ref != null) {
          sources.add(ref);
        }
      }
    }
    return sources;
  }

  private BusRef busRef(Node node, String path, String fallback) {
    String text = node == null ? fallback : scalar(node, path);
    if (text == null) {
      return null;
    }
    int colon = text.indexOf(':');
    String kind = colon < 0 ? "" : text.substring(0, colon).toLowerCase(Locale.ROOT);
    String target = colon < 0 ? "" : text.substring(colon + 1);
    if (!target.matches("[A-Za-z0-9._-]{1,249}")) {
      problem(node, path, "'" + text + "' is not a bus; write kafka:TOPIC or rabbitmq:NAME (letters, digits, . _ -)");
      return null;
    }
    return switch (kind) {
      case "kafka" -> new BusRef(BusRef.Kind.KAFKA, target);
      case "rabbitmq" -> new BusRef(BusRef.Kind.RABBITMQ, target);
      default -> {
        problem(node, path, "unknown bus '" + kind + "' in '" + text + "'; known: kafka, rabbitmq");
        yield null;
      }
    };
  }

  // ---- YAML helpers ------------------------------------------------------------------------

  /** {@code lookups.merchant} when the item has a usable name, else {@code lookups[0]}. */
  private static String itemPath(Node item, String collection, int index) {
    if (item instanceof MappingNode m) {
      for (NodeTuple t : m.getValue()) {
        if (t.getKeyNode() instanceof ScalarNode k && "name".equals(k.getValue())
            && t.getValueNode() instanceof ScalarNode v && NAME.matcher(v.getValue()).matches()) {
          return collection + "." + v.getValue();
        }
      }
    }
    return collection + "[" + index + "]";
  }

  private Map<String, Node> mapping(Node node, String path, Set<String> allowed) {
    Map<String, Node> entries = new LinkedHashMap<>();
    for (NodeTuple tuple : tuples(node, path)) {
      String key = scalar(tuple.getKeyNode(), path);
      if (key == null) {
        continue;
      }
      if (!allowed.contains(key)) {
        problem(tuple.getKeyNode(), join(path, key), "unknown key; expected one of " + new java.util.TreeSet<>(allowed));
        continue;
      }
      entries.put(key, tuple.getValueNode());
    }
    return entries;
  }

  private List<NodeTuple> tuples(Node node, String path) {
    if (node instanceof MappingNode m) {
      return m.getValue();
    }
    problem(node, path, "must be a mapping (key: value lines)");
    return List.of();
  }

  private List<Node> sequence(Node node, String path) {
    if (node instanceof SequenceNode s) {
      return s.getValue();
    }
    problem(node, path, "must be a list");
    return List.of();
  }

  private String scalar(Node node, String path) {
    if (node instanceof ScalarNode s) {
      return s.getValue();
    }
    problem(node, path, "must be a single value");
    return null;
  }

  private String name(Node node, String path) {
    String text = scalar(node, path);
    if (text != null && !NAME.matcher(text).matches()) {
      problem(node, path, "'" + text + "' is not a valid name (a letter, then letters, digits, _ . -)");
      return null;
    }
    return text;
  }

  private String requiredName(Map<String, Node> entries, String key, String path, Node parent) {
    if (!entries.containsKey(key)) {
      problem(parent, path, "is missing");
      return null;
    }
    return name(entries.get(key), path);
  }

  private String fieldName(Node node, String path) {
    String text = scalar(node, path);
    if (text != null && !FIELD_NAME.matcher(text).matches()) {
      problem(node, path, "'" + text + "' is not a valid field name (letters, digits, _)");
      return null;
    }
    return text;
  }

  private String requiredFieldName(Map<String, Node> entries, String key, String path, Node parent) {
    if (!entries.containsKey(key)) {
      problem(parent, path, "is missing");
      return null;
    }
    return fieldName(entries.get(key), path);
  }

  private Duration duration(Node node, String path) {
    String text = scalar(node, path);
    if (text == null) {
      return null;
    }
    Optional<Duration> d = Durations.parse(text);
    if (d.isEmpty()) {
      problem(node, path, "'" + text + "' is not a duration; write e.g. 500ms, 30s, 5m, 1h, 7d");
      return null;
    }
    return d.get();
  }

  private Duration positiveDuration(Node node, String path) {
    Duration d = duration(node, path);
    if (d != null && d.isZero()) {
      problem(node, path, "must be longer than zero");
      return null;
    }
    return d;
  }

  private Boolean bool(Node node, String path) {
    String text = scalar(node, path);
    if ("true".equals(text) || "false".equals(text)) {
      return Boolean.valueOf(text);
    }
    if (text != null) {
      problem(node, path, "'" + text + "' must be true or false");
    }
    return null;
  }

  private Long integer(Node node, String path) {
    String text = scalar(node, path);
    try {
      return text == null ? null : Long.parseLong(text);
    } catch (NumberFormatException e) {
      problem(node, path, "'" + text + "' must be a whole number");
      return null;
    }
  }

  private <E extends Enum<E>> E enumValue(Node node, String path, Class<E> type, E fallback) {
    if (node == null) {
      return fallback;
    }
    String text = scalar(node, path);
    if (text == null) {
      return fallback;
    }
    for (E value : type.getEnumConstants()) {
      if (value.name().equalsIgnoreCase(text)) {
        return value;
      }
    }
    problem(node, path, "unknown value '" + text + "'; expected one of " + known(type.getEnumConstants(), v -> v.name().toLowerCase(Locale.ROOT)));
    return fallback;
  }

  private static <T> String known(T[] values, Function<T, String> name) {
    List<String> names = new ArrayList<>();
    for (T v : values) {
      names.add(name.apply(v));
    }
    return String.join(", ", names);
  }

  private static String join(String path, String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  private void problem(Node node, String path, String message) {
    int line = node == null ? 0 : node.getStartMark().getLine() + 1;
    problems.add("line " + line + ": " + path + ": " + message);
  }
}
