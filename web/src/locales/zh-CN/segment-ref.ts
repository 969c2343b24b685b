/** Conditions on segments and department subtrees: "在分群「X」中", "属于「华东大区」及其下级部门". */
export default {
  segmentRef: {
    usedBy: '有规则或分群在引用这个分群，不能删除：{names}。请先去掉这些条件。',
    usedByRule: '规则「{name}」',
    usedBySegment: '分群「{name}」',
    listSeparator: '、',
    picker: '选择分群',
    none: '没有你可以引用的分群',
    size: '{n} 人',
    sizeUnknown: '未完成',
    inText: '在分群「{name}」中',
    notInText: '不在分群「{name}」中',
    deptTreeText: '{field} 属于「{dept}」及其下级部门',
    cycle: '分群{path}形成循环',
    pickHint: '按分群当前的定义计算：被引用的分群改了，这里跟着变，无需重新发布',
    deptTreeHint: '包含所选部门及其全部下级部门（以后新建的下级部门也算在内）',
  },
};
